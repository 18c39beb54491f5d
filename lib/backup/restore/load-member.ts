import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../../errors';
import type { ManifestEntry, ManifestTable } from '../manifest';
import { copyStatement, describeEntry } from '../manifest';
import { sqlMemberProblem, TableDataScanner } from '../member-check';
import { BINARY_HEADER, BINARY_TRAILER, binaryColumnKinds, TextToBinary } from './binary-copy';

/**
 * Reads a (small) SQL member whole and checks it BEFORE it can run: its SHA-256 against the manifest,
 * and its text against its kind (a header only SETs, a sequence-set member only setval calls).
 */
export async function readSqlMember(out: Readable, e: ManifestEntry): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of out as AsyncIterable<Buffer>) parts.push(c);
  const buf = Buffer.concat(parts);
  const sha = createHash('sha256').update(buf).digest('hex');
  if (sha !== e.sha256) throw new AppError('corrupt', `${describeEntry(e)}: content SHA-256 does not match the manifest`);
  const text = buf.toString('utf8');
  const problem = sqlMemberProblem(e, text);
  if (problem) throw new AppError('corrupt', `${describeEntry(e)}: ${problem}`);
  return text;
}

/**
 * Streams a table-data member into COPY FROM STDIN on `client`. The COPY statement sent is BUILT
 * from the manifest's table name and columns (into `into` for --into-schema), never read from
 * storage; the member must be exactly that table's COPY line (which spans several physical lines
 * when a name holds a newline), rows, and the `\.` terminator as its last line (TableDataScanner),
 * checked as the bytes flow, before each piece is sent. The member's SHA-256 (with `gzChecked`, the
 * reader's check of its compressed bytes instead) and the server's row
 * count are checked against the manifest before the caller commits. `onBytes` reports bytes read.
 */
export async function copyMember(
  client: pg.ClientBase,
  out: Readable,
  e: ManifestEntry,
  table: ManifestTable,
  opts: {
    signal?: AbortSignal;
    onBytes?: (n: number) => void;
    freeze?: boolean;
    into?: { schema: string; name: string };
    binary?: boolean;
    onBinaryRows?: (rows: number) => void;
    /** The reader checks the member's compressed bytes (gzSha256) before the caller commits: no hash of the decompressed ones here. */
    gzChecked?: boolean;
  } = {},
): Promise<number> {
  const what = describeEntry(e);
  if (e.copy !== copyStatement(table.schema, table.name, table.columns)) throw new AppError('corrupt', `${what}: the manifest's COPY line is not the COPY line of ${table.schema}.${table.name} (tampered manifest?)`);
  const hash = opts.gzChecked ? null : createHash('sha256');
  const scanner = new TableDataScanner(table, what);
  const at = opts.into ?? table;
  // FREEZE (only for a table created or truncated in this transaction): rows are written frozen
  // and pages all-visible, so the post-load re-read and later VACUUMs have no hint bits to set.
  const statement = (format: 'text' | 'binary') =>
    copyStatement(at.schema, at.name, table.columns).replace(/ FROM stdin;$/, ` FROM STDIN${format === 'binary' ? ` WITH (FORMAT binary${opts.freeze ? ', FREEZE' : ''})` : opts.freeze ? ' WITH (FREEZE)' : ''}`);
  const it = (out as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  /** The member's next checked pieces of rows (never the terminator), or null at its end. */
  const next = async (): Promise<Buffer[] | null> => {
    const r = await it.next();
    if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
    if (r.done) {
      scanner.end();
      return null;
    }
    hash?.update(r.value);
    opts.onBytes?.(r.value.length);
    return scanner.push(r.value);
  };
  let rows = 0;
  let pending: Buffer[] = [];
  let ended = false;
  // The atomic restore converts rows to COPY BINARY here (binary-copy.ts) when every column's type
  // allows it; from a row it cannot convert on, the rest goes as text in a second COPY.
  const kinds = opts.binary ? await binaryColumnKinds(client, at.schema, at.name, table.columns) : null;
  if (kinds) {
    const conv = new TextToBinary(kinds);
    const copy = client.query(copyFrom(statement('binary')));
    async function* binary() {
      yield BINARY_HEADER;
      while (!conv.stopped) {
        const pieces = await next();
        if (!pieces) {
          ended = true;
          conv.end();
          break;
        }
        for (const p of pieces) yield* conv.push(p);
      }
      yield BINARY_TRAILER;
    }
    await pipeline(binary, copy);
    rows += Number((copy as unknown as { rowCount: number }).rowCount);
    opts.onBinaryRows?.(rows);
    if (!conv.stopped) pending = [];
    else pending = conv.rest;
    if (!conv.stopped) ended = true;
  }
  if (!ended || pending.length) {
    const copy = client.query(copyFrom(statement('text')));
    async function* text() {
      yield* pending;
      while (!ended) {
        const pieces = await next();
        if (!pieces) break;
        yield* pieces;
      }
    }
    await pipeline(text, copy);
    rows += Number((copy as unknown as { rowCount: number }).rowCount);
  }
  if (hash && hash.digest('hex') !== e.sha256) throw new AppError('corrupt', `${what}: content SHA-256 does not match the manifest`);
  // The server's own count of the rows it stored (the COPY command tag), before the caller commits:
  // a trigger or rule on the target that drops rows shows up here.
  if (e.rows !== undefined && rows !== e.rows) throw new AppError('verification_failed', `${what}: the server stored ${rows} rows (COPY count), the backup has ${e.rows}`);
  return rows;
}
