import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { countNewlines } from './archive-reader';
import { gzipSmall, SMALL_MEMBER_BYTES } from './archive-writer';
import { ChunkSpool } from './chunk-spool';
import { quoteIdentAlways as qa } from './catalog/quote-ident';
import { copyStatement } from './manifest';
import { type BatchEvent, CopyBatchQuery } from './copy-batch';

/** One unit of table data: a whole table, or one ctid range of a large one. */
export interface DataChunk {
  schema: string;
  table: string;
  columns: string[];
  /** 0-based chunk number within the table. */
  chunk: number;
  /** First heap page (inclusive) or null for "from the start". */
  fromPage: number | null;
  /** Last heap page (exclusive) or null for "to the end" (the table may have grown since sizing). */
  toPage: number | null;
  /** Heap pages this chunk covers (progress/ETA weight). */
  pages: number;
}

/** The member's first line, without its newline: `COPY "s"."t" ("a", "b") FROM stdin;`. */
export function copyLine(c: Pick<DataChunk, 'schema' | 'table' | 'columns'>): string {
  return copyStatement(c.schema, c.table, c.columns);
}

/**
 * The COPY TO statement reading a chunk. Whole tables use plain `COPY t (cols) TO STDOUT`; ranges
 * use a TID range scan (PostgreSQL 14+), which reads only the pages in [fromPage, toPage) — the
 * caller only splits tables on servers that have it. `ONLY`: a parent's rows, not its children's
 * (children are their own tables in the backup).
 */
export function copyQuery(c: DataChunk): string {
  const rel = `${qa(c.schema)}.${qa(c.table)}`;
  if (c.fromPage === null && c.toPage === null) {
    const cols = c.columns.length ? ` (${c.columns.map(qa).join(', ')})` : '';
    return `COPY ${rel}${cols} TO STDOUT`;
  }
  const conds: string[] = [];
  if (c.fromPage !== null) conds.push(`ctid >= '(${c.fromPage},0)'::pg_catalog.tid`);
  if (c.toPage !== null) conds.push(`ctid < '(${c.toPage},0)'::pg_catalog.tid`);
  return `COPY (SELECT ${c.columns.map(qa).join(', ')} FROM ONLY ${rel} WHERE ${conds.join(' AND ')}) TO STDOUT`;
}

export interface ChunkResult {
  rows: number;
  rawLength: number;
  sha256: string;
  copy: string;
  spool: ChunkSpool;
}

const TERMINATOR = Buffer.from('\\.\n');

/**
 * Bytes of COPY data handed to zlib per write. On 64 MB of high-entropy COPY text, gzip level 3:
 * main-thread CPU 160–180 ms in ~56 KB writes, 70 ms in 1 MiB writes (same output).
 */
const ZLIB_BATCH = 1024 * 1024;

/**
 * Reads one chunk with COPY TO STDOUT on `client` (already inside the backup's snapshot) and
 * compresses it, as one complete gzip member, into a spool (see memberFromCopy).
 */
export async function copyChunk(client: pg.ClientBase, chunk: DataChunk, opts: MemberOptions): Promise<ChunkResult> {
  const source = client.query(copyTo(copyQuery(chunk), { highWaterMark: 256 * 1024 }));
  try {
    return await memberFromCopy((source as AsyncIterable<Buffer>)[Symbol.asyncIterator](), chunk, opts);
  } catch (err) {
    source.destroy();
    throw err;
  }
}

/** Most tables one batch query reads (copy-batch.ts); helpers renew their snapshot between batches. */
export const COPY_BATCH_TABLES = 100;

/**
 * Reads several whole, small tables with ONE query (copy-batch.ts: their COPY statements in one
 * simple query), each into its own member exactly as copyChunk would; `onResult(k, result)` as
 * each is complete, in order. A failure names the table whose statement failed.
 */
export async function copyBatch(
  client: pg.ClientBase,
  chunks: DataChunk[],
  opts: Omit<MemberOptions, 'spoolName'> & { spoolName: (k: number) => string },
  onResult: (k: number, r: ChunkResult) => void,
): Promise<void> {
  const query = new CopyBatchQuery(chunks.map(copyQuery));
  const source = client.query(query as unknown as pg.Submittable) as unknown as CopyBatchQuery;
  const events = source[Symbol.asyncIterator]() as AsyncIterator<BatchEvent>;
  let k = 0;
  try {
    for (; k < chunks.length; k++) {
      const table = k;
      const data: AsyncIterator<Buffer> = {
        async next() {
          const r = await events.next();
          if (r.done) throw new Error(`a batch of ${chunks.length} COPY statements ended after ${table}`);
          const ev = r.value;
          if (ev.table !== table) throw new Error(`a batch of COPY statements sent data of statement ${ev.table} while reading ${table}`);
          return 'end' in ev ? { done: true, value: undefined } : { done: false, value: ev.data };
        },
      };
      onResult(k, await memberFromCopy(data, chunks[k], { ...opts, spoolName: opts.spoolName(k) }));
    }
  } catch (err) {
    source.destroy();
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), { batchStatement: Math.max(k, query.failedStatement) });
  }
}

export interface MemberOptions {
  gzipLevel: number;
  spoolDir: string;
  spoolName: string;
  spoolMemory: number;
  /** Encrypt spooled files (an encrypted backup: no row in the clear on any disk). */
  spoolEncrypted?: boolean;
  onData?: (bytes: number, rows: number) => void;
}

/**
 * Compresses one chunk's COPY data (`it`: its pieces, as the server sends them), as one complete
 * gzip member, into a spool: `copy line + rows + \.`. Hashes the uncompressed member and counts
 * its rows (COPY text escapes newlines inside values, so every '\n' ends a row) on the way. zlib
 * runs on the thread pool, so two workers compress on two cores.
 */
async function memberFromCopy(it: AsyncIterator<Buffer>, chunk: DataChunk, opts: MemberOptions): Promise<ChunkResult> {
  const line = copyLine(chunk);
  const head = Buffer.from(`${line}\n`, 'utf8');
  const hash = createHash('sha256');
  let rows = 0;
  let rawLength = 0;
  const spool = new ChunkSpool(opts.spoolDir, opts.spoolName, opts.spoolMemory, opts.spoolEncrypted === true);
  const account = (b: Buffer, isRow: boolean) => {
    const n = isRow ? countNewlines(b) : 0;
    rows += n;
    rawLength += b.length;
    hash.update(b);
    if (isRow) opts.onData?.(b.length, n);
  };
  try {
    // Small tables (most of a 5,000-table catalog) are read whole into memory and compressed in
    // one call (archive-writer gzipSmall): a zlib stream per tiny table cost more than its COPY.
    const head0: Buffer[] = [head];
    account(head, false);
    let ended = false;
    while (rawLength <= SMALL_MEMBER_BYTES) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      account(r.value, true);
      head0.push(r.value);
    }
    if (ended) {
      account(TERMINATOR, false);
      head0.push(TERMINATOR);
      const gz = gzipSmall(Buffer.concat(head0), opts.gzipLevel);
      await new Promise<void>((resolve, reject) => {
        spool.once('error', reject);
        spool.end(gz, () => resolve());
      });
    } else {
      await pipeline(
        async function* () {
          yield* head0;
          // COPY data arrives in pieces of ~50 KB; each write to a zlib stream is one round trip to
          // the thread pool, whose JS side costs the main thread more than copying: handing zlib
          // ~1 MiB at a time cut the main thread's zlib time ~2.5x (measured, see ZLIB_BATCH).
          let batch: Buffer[] = [];
          let batched = 0;
          for (let r = await it.next(); !r.done; r = await it.next()) {
            account(r.value, true);
            batch.push(r.value);
            batched += r.value.length;
            if (batched >= ZLIB_BATCH) {
              yield batch.length === 1 ? batch[0] : Buffer.concat(batch, batched);
              batch = [];
              batched = 0;
            }
          }
          if (batched > 0) yield Buffer.concat(batch, batched);
          account(TERMINATOR, false);
          yield TERMINATOR;
        },
        // memLevel 9 (bigger match hash): measured ~5% less CPU and a slightly smaller archive than
        // the default 8 at level 3; still a standard gzip member.
        zlib.createGzip({ level: opts.gzipLevel, memLevel: 9, chunkSize: 256 * 1024 }),
        spool,
      );
    }
  } catch (err) {
    await spool.dispose();
    throw err;
  }
  return { rows, rawLength, sha256: hash.digest('hex'), copy: line, spool };
}
