import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../../errors';
import { describeEntry } from '../archive-reader';
import type { ManifestEntry } from '../manifest';

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
 * Streams a table-data member into COPY FROM STDIN on `client`: the member's own COPY line is
 * checked against the manifest and replaced by `copyLine` (the same table, or its --into-schema
 * copy), the `\.` terminator is stripped, rows pass through untouched. The member's SHA-256 and the
 * server's row count are checked against the manifest. `onBytes` reports uncompressed bytes sent.
 */
export async function copyMember(
  client: pg.ClientBase,
  out: Readable,
  e: ManifestEntry,
  copyLine: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void; freeze?: boolean } = {},
): Promise<number> {
  const hash = createHash('sha256');
  // FREEZE (only for a table created or truncated in this transaction): rows are written frozen
  // and pages all-visible, so the post-load re-read and later VACUUMs have no hint bits to set.
  const copy = client.query(copyFrom(`${copyLine.replace(/;\s*$/, '')}${opts.freeze ? ' WITH (FREEZE)' : ''}`));
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
        const nl = head.indexOf(10);
        if (nl === -1) {
          if (head.length > 1 << 20) throw new AppError('corrupt', `${describeEntry(e)}: no COPY line`);
          continue;
        }
        const line = head.subarray(0, nl).toString('utf8');
        if (e.copy !== undefined && line !== e.copy) throw new AppError('corrupt', `${describeEntry(e)}: COPY line differs from the manifest's`);
        c = head.subarray(nl + 1);
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
