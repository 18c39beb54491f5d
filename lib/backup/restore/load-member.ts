import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../../errors';
import type { ManifestEntry, ManifestTable } from '../manifest';
import { copyStatement, describeEntry } from '../manifest';

/** Reads a (small) SQL member whole, checking its SHA-256 against the manifest. */
export async function readSqlMember(out: Readable, e: ManifestEntry): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of out as AsyncIterable<Buffer>) parts.push(c);
  const buf = Buffer.concat(parts);
  const sha = createHash('sha256').update(buf).digest('hex');
  if (sha !== e.sha256) throw new AppError('corrupt', `${describeEntry(e)}: content SHA-256 does not match the manifest`);
  return buf.toString('utf8');
}

/**
 * Streams a table-data member into COPY FROM STDIN on `client`. The COPY statement sent is BUILT
 * from the manifest's table name and columns (into `into` for --into-schema), never read from
 * storage; the member must start with exactly that table's COPY line (which may span several
 * physical lines when a name holds a newline). The line is stripped, the `\.` terminator too, rows
 * pass through untouched. The member's SHA-256 and the server's row count are checked against the
 * manifest. `onBytes` reports uncompressed bytes sent.
 */
export async function copyMember(
  client: pg.ClientBase,
  out: Readable,
  e: ManifestEntry,
  table: ManifestTable,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void; freeze?: boolean; into?: { schema: string; name: string } } = {},
): Promise<number> {
  const hash = createHash('sha256');
  const expectedHead = Buffer.from(`${copyStatement(table.schema, table.name, table.columns)}\n`, 'utf8');
  if (e.copy !== undefined && `${e.copy}\n` !== expectedHead.toString('utf8')) throw new AppError('corrupt', `${describeEntry(e)}: the manifest's COPY line is not the COPY line of ${table.schema}.${table.name} (tampered manifest?)`);
  const at = opts.into ?? table;
  // FREEZE (only for a table created or truncated in this transaction): rows are written frozen
  // and pages all-visible, so the post-load re-read and later VACUUMs have no hint bits to set.
  const statement = copyStatement(at.schema, at.name, table.columns).replace(/ FROM stdin;$/, ` FROM STDIN${opts.freeze ? ' WITH (FREEZE)' : ''}`);
  const copy = client.query(copyFrom(statement));
  let tail: Buffer = Buffer.alloc(0);
  async function* body() {
    let head: Buffer | null = Buffer.alloc(0);
    let pending: Buffer | null = null;
    for await (const raw of out as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
      hash.update(raw);
      let c = raw;
      if (head) {
        head = Buffer.concat([head, c]);
        if (head.length < expectedHead.length) continue;
        if (!head.subarray(0, expectedHead.length).equals(expectedHead)) throw new AppError('corrupt', `${describeEntry(e)}: the member does not start with the COPY line of ${table.schema}.${table.name}`);
        c = head.subarray(expectedHead.length);
        head = null;
      }
      opts.onBytes?.(raw.length);
      // Hold back the last bytes: the member ends with `\.\n`, which must not reach the server.
      if (c.length >= 3) {
        if (pending) yield pending;
        pending = c;
      } else {
        pending = pending ? Buffer.concat([pending, c]) : c;
      }
    }
    if (head) throw new AppError('corrupt', `${describeEntry(e)}: member has no COPY line`);
    const p = pending ?? Buffer.alloc(0);
    tail = p.subarray(Math.max(0, p.length - 3));
    if (tail.toString('utf8') !== '\\.\n') throw new AppError('corrupt', `${describeEntry(e)}: member does not end with the COPY terminator`);
    if (p.length > 3) yield p.subarray(0, p.length - 3);
  }
  await pipeline(body, copy);
  const sha = hash.digest('hex');
  if (sha !== e.sha256) throw new AppError('corrupt', `${describeEntry(e)}: content SHA-256 does not match the manifest`);
  const rows = Number((copy as unknown as { rowCount: number }).rowCount);
  if (e.rows !== undefined && rows !== e.rows) throw new AppError('verification_failed', `${describeEntry(e)}: loaded ${rows} rows, manifest says ${e.rows}`);
  return rows;
}
