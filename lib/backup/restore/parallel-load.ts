import { createHash } from 'node:crypto';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { AppError } from '../../errors';
import { countNewlines } from '../archive-reader';
import { qualifiedName as qrel, quoteIdent } from '../catalog/quote-ident';
import type { Manifest, ManifestEntry, ManifestTable } from '../manifest';
import { contentShaOf, copyStatement } from '../manifest';
import type { LoadContext } from './load-loop';
import { loadMembers } from './load-loop';
import { tkey } from './plan-base';
import type { MemberAction, MemberReader, RestoredTable } from './restore-types';
import { runSqlBatched } from './sql-batches';
import { readTableContent } from './table-content';

/** Post-data kinds that only need their table (and nothing else post-data) to exist. */
const PARALLEL_POST = new Set(['INDEX', 'CONSTRAINT']);

/**
 * A table of one member up to this many compressed bytes is "small": loaded in a transaction with
 * other small tables (loadTableBatch). Thousands of tiny tables cost a transaction and four round
 * trips each otherwise, many times their COPY.
 */
const SMALL_TABLE_BYTES = 256 * 1024;
/** Compressed table data per batch of small tables (a batch is one connection's unit of work). */
const BATCH_DATA_BYTES = 4 * 1024 * 1024;
/** Lock-table entries the load of one small table holds until COMMIT (TRUNCATE: the table, its TOAST table and index; one spare). */
const TABLE_LOAD_LOCKS = 4;

/** Splits `tables` into batches within `lockLimit` and BATCH_DATA_BYTES, at least one per connection when there are enough. */
function tableBatches<T>(tables: T[], size: (t: T) => number, lockLimit: number, connections: number): T[][] {
  const perBatch = Math.max(1, Math.min(Math.floor(lockLimit / TABLE_LOAD_LOCKS), Math.ceil(tables.length / connections)));
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const t of tables) {
    if (cur.length > 0 && (cur.length >= perBatch || bytes + size(t) > BATCH_DATA_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(t);
    bytes += size(t);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** A unit of work for any free connection. */
interface Task {
  run(w: pg.Client): Promise<void>;
}

/**
 * Runs `loads` (in order) and the tasks they make ready (`ready`, filled while loads finish: a
 * table's keys and indexes, content re-reads) on all `workers` until both queues are empty and
 * nothing runs; a ready task goes before the next load, so a table's indexes are built while other
 * tables load (as pg_restore does) instead of all at the end. The first failure stops every worker
 * from taking new work and rejects.
 */
async function runTaskGraph(workers: pg.Client[], loads: Task[], ready: Task[], signal: AbortSignal | undefined, wakeUp: { notify: () => void }): Promise<void> {
  let running = 0;
  let failed = false;
  let wake: (() => void) | null = null;
  wakeUp.notify = () => {
    const f = wake;
    wake = null;
    f?.();
  };
  await Promise.all(
    workers.map(async (w) => {
      for (;;) {
        if (failed) return;
        if (signal?.aborted) throw new AppError('aborted', 'restore interrupted');
        const task = ready.shift() ?? loads.shift();
        if (!task) {
          if (running === 0) {
            wakeUp.notify();
            return;
          }
          await new Promise<void>((r) => {
            const prev = wake;
            wake = () => {
              prev?.();
              r();
            };
          });
          continue;
        }
        running++;
        try {
          await task.run(w);
        } catch (err) {
          failed = true;
          wakeUp.notify();
          throw err;
        } finally {
          running--;
        }
        wakeUp.notify();
      }
    }),
  );
}

/**
 * Data, verification and the tables' own keys/indexes as one task graph on all connections. Each
 * table loads in its own transaction (TRUNCATE + COPY FREEZE, biggest table first) through the load
 * loop (without `checkContent`, a table of several chunks loads chunk by chunk on all connections
 * at once, each chunk in its own transaction); when it commits, its own keys and indexes become
 * ready (as pg_restore builds a table's indexes right after its data), and with `checkContent` its
 * re-read: a one-chunk table inside its load transaction, a multi-chunk one chunk by chunk by TID
 * range on whichever connection is free.
 * Returns the per-table report and the post-data members already run.
 */
export async function loadTablesInParallel(
  workers: pg.Client[],
  reader: MemberReader,
  m: Manifest,
  actions: MemberAction[],
  ctx: LoadContext,
  opts: {
    checkContent: boolean;
    onVerify: (what: string) => void;
    /** Lock-table entries one connection's transaction may hold (lock-budget.ts); 0: no batches, a transaction per table. */
    batchLocks: number;
    /**
     * The plan's tables (not every manifest table: a referenced table outside the backup that
     * already has rows in the target is neither loaded nor compared, as in the atomic restore).
     */
    tables: ManifestTable[];
  },
): Promise<{ report: RestoredTable[]; earlyDone: Set<number> }> {
  const report: RestoredTable[] = [];
  const withData = opts.tables.filter((t) => t.entries.length > 0);
  const loadedKeys = new Set(withData.map((t) => tkey(t.schema, t.name)));
  // Keys and indexes of a loaded table need nothing but that table (pre-data made everything else
  // they reference): they run early. The rest of post-data (foreign keys, which need every
  // referenced key; triggers; partition attachments; matview refreshes) waits for the end.
  const early = new Map<string, ManifestEntry[]>();
  const earlyDone = new Set<number>();
  for (const e of m.entries) {
    if (e.section !== 'post-data' || !PARALLEL_POST.has(e.kind) || e.table === undefined) continue;
    const k = tkey(e.schema, e.table);
    if (!loadedKeys.has(k)) continue;
    early.set(k, [...(early.get(k) ?? []), e]);
    earlyDone.add(e.index);
  }
  const ready: Task[] = [];
  const wakeUp = { notify: () => {} };
  const afterCommit = (t: ManifestTable) => {
    for (const e of early.get(tkey(t.schema, t.name)) ?? []) ready.push({ run: (w) => loadMembers(w, reader, [e], actions, ctx) });
    wakeUp.notify();
  };
  const size = (t: ManifestTable) => t.entries.reduce((s, i) => s + m.entries[i].length, 0);
  // Without the content check, physical row order does not matter: a table of several chunks loads
  // chunk by chunk on every free connection at once (each chunk its own transaction, its SHA-256
  // and COPY row count checked before its COMMIT), so the biggest table is no longer one
  // connection's long pole. With the check, a table loads in one transaction (see loadOneTable).
  const split = (t: ManifestTable) => !opts.checkContent && t.entries.length > 1 && !t.referenced;
  const small = (t: ManifestTable) => opts.batchLocks > 0 && t.entries.length === 1 && !t.referenced && !t.dataExcluded && size(t) <= SMALL_TABLE_BYTES;
  const bySize = [...withData].sort((a, b) => size(b) - size(a));
  // Tables of several members that do not split (a referenced table outside the backup; every
  // table with the content check) first, biggest first: each is one indivisible task. Then the
  // chunks of split tables (biggest table first, each table's chunks together), then the other
  // whole tables (one member each, no bigger than a chunk), then the batches of small ones. A split
  // table's keys and indexes can only start after its LAST chunk: loading its chunks before the
  // one-member tables and batches makes them ready while those are still there to fill the other
  // connection, instead of running alone at the end. On tickethub_bench (--jobs 2, 2 cores) the
  // 2M-row table's primary key (~1 s) used to follow its last chunk with the other connection idle
  // (0.7 s waiting for that chunk, then the build); now the 500,000-row table loads beside them:
  // 8.12-8.78 s against 8.79-9.52 s, 3 alternating runs each (pg_restore -j2 9.95-10.76 s).
  const whole = bySize.filter((t) => !small(t) && !split(t));
  const loadWhole = (t: ManifestTable): Task => ({ run: (w) => loadOneTable(w, t) });
  const loads: Task[] = [
    ...whole.filter((t) => t.entries.length > 1).map(loadWhole),
    ...bySize.filter(split).flatMap(loadChunks),
    ...whole.filter((t) => t.entries.length <= 1).map(loadWhole),
    ...tableBatches(bySize.filter(small), size, opts.batchLocks, workers.length).map((batch): Task => ({ run: (w) => loadTableBatch(w, batch) })),
  ];

  /**
   * Small tables, many to a transaction: one round trip for BEGIN and the TRUNCATE of them all (as
   * in loadOneTable, it allows COPY FREEZE), then each one's COPY (SHA-256 and the server's row
   * count checked as always; with the content check, its re-read), one COMMIT. Their keys and
   * indexes then run as one batched task.
   */
  async function loadTableBatch(w: pg.Client, ts: ManifestTable[]): Promise<void> {
    // ONLY before EVERY name: `TRUNCATE ONLY a, b` truncates b with its inheritance children (a
    // child already loaded and committed on another connection lost its rows, the restore green).
    await w.query(`BEGIN; TRUNCATE ${ts.map((t) => `ONLY ${qrel(t.schema, t.name)}`).join(', ')}`);
    const rows: RestoredTable[] = [];
    for (const t of ts) {
      await loadMembers(w, reader, [m.entries[t.entries[0]]], actions, ctx);
      let row: RestoredTable = { schema: t.schema, name: t.name, expectedRows: t.rows, rows: ctx.loaded.get(tkey(t.schema, t.name)) ?? 0, contentMatches: null };
      if (opts.checkContent) {
        opts.onVerify(`${t.schema}.${t.name}`);
        const c = await readTableContent(w, m, t);
        row = { ...row, rows: c.rows, contentMatches: c.contentSha256 === t.contentSha256 };
      }
      rows.push(row);
    }
    await w.query('COMMIT');
    report.push(...rows);
    const keys = ts.flatMap((t) => early.get(tkey(t.schema, t.name)) ?? []);
    if (keys.length) ready.push({ run: (w2) => runSqlBatched(w2, reader, keys, actions, ctx, opts.batchLocks) });
    wakeUp.notify();
  }

  function loadChunks(t: ManifestTable): Task[] {
    let left = t.entries.length;
    return t.entries.map((i) => ({
      run: async (w: pg.Client) => {
        await w.query('BEGIN');
        await loadMembers(w, reader, [m.entries[i]], actions, { ...ctx, noFreeze: true });
        await w.query('COMMIT');
        if (--left > 0) return;
        report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows: ctx.loaded.get(tkey(t.schema, t.name)) ?? 0, contentMatches: null });
        afterCommit(t);
      },
    }));
  }

  async function loadOneTable(w: pg.Client, t: ManifestTable): Promise<void> {
    const rel = qrel(t.schema, t.name);
    const entries = t.entries.map((i) => m.entries[i]);
    const multi = entries.length > 1;
    // One transaction per table: TRUNCATE of the just-created table allows COPY FREEZE (rows
    // written frozen, pages all-visible). All chunks stay in this ONE transaction on purpose: only a
    // COPY into a relfilenode new in its transaction skips the free space map. A COPY in a later
    // transaction records each page it leaves in the FSM and puts later, smaller rows into that
    // leftover space, so physical order stops being archive order and the content hash fails
    // (measured on 15 and 17: 600k variable-width rows in three COPYs committed separately: 5,644
    // resp. 1,036 rows out of order). So committing chunk by chunk is not an option.
    await w.query('BEGIN');
    // (not a referenced table outside the backup, e.g. auth.users: other tables may reference it; it is loaded only when empty)
    if (!t.referenced) await w.query(`TRUNCATE ONLY ${rel}`);
    const ends: string[] = [];
    let last: string | null = '(0,0)';
    const afterCopy = async (_e: ManifestEntry, rows: number) => {
      if (last !== null && rows > 0) last = await lastCtid(w, rel);
      if (last !== null) ends.push(last);
    };
    await loadMembers(w, reader, entries, actions, { ...ctx, afterCopy: multi && opts.checkContent ? afterCopy : undefined });
    const loadedRows = ctx.loaded.get(tkey(t.schema, t.name)) ?? 0;
    if (t.dataExcluded || !opts.checkContent || !multi || ends.length !== entries.length) {
      let row: RestoredTable = { schema: t.schema, name: t.name, expectedRows: t.rows, rows: loadedRows, contentMatches: null };
      if (!t.dataExcluded && opts.checkContent) {
        // One chunk: re-read the whole table here, inside its load transaction, while others load.
        opts.onVerify(`${t.schema}.${t.name}`);
        const c = await readTableContent(w, m, t);
        row = { ...row, rows: c.rows, contentMatches: c.contentSha256 === t.contentSha256 };
      }
      await w.query('COMMIT');
      if (!t.dataExcluded) report.push(row);
      afterCommit(t);
      return;
    }
    await w.query('COMMIT');
    afterCommit(t); // its index builds first (each indivisible, so longest-first), then the chunk re-reads
    const shas: ({ rows: number; sha: string } | undefined)[] = new Array(entries.length);
    let left = entries.length;
    entries.forEach((_e, ci) => {
      ready.push({
        run: async (w2) => {
          opts.onVerify(`${t.schema}.${t.name}`);
          shas[ci] = await readChunkRange(w2, copyStatement(t.schema, t.name, t.columns), rel, t.columns, ci === 0 ? '(0,0)' : ends[ci - 1], ends[ci]);
          if (--left === 0) {
            const rows = shas.reduce((s, c) => s + c!.rows, 0);
            report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows, contentMatches: contentShaOf(shas.map((c) => c!.sha)) === t.contentSha256 });
          }
        },
      });
    });
    wakeUp.notify();
  }

  await runTaskGraph(workers, loads, ready, ctx.signal, wakeUp);
  for (const t of opts.tables) {
    if (t.entries.length === 0 && !t.dataExcluded) report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows: 0, contentMatches: opts.checkContent ? t.contentSha256 === contentShaOf([]) : null });
  }
  return { report, earlyDone };
}

/**
 * The rest of post-data in archive order: runs of indexes/keys spread over all connections, every
 * other member (foreign keys, triggers, attachments, ...) on `main` in order, in batches within
 * `batchLocks` (0: one by one).
 */
export async function loadPostData(workers: pg.Client[], main: pg.Client, reader: MemberReader, post: ManifestEntry[], actions: MemberAction[], ctx: LoadContext, batchLocks: number): Promise<void> {
  for (let i = 0; i < post.length; ) {
    let j = i;
    if (!PARALLEL_POST.has(post[i].kind)) {
      // Foreign keys, triggers, ... in order on one connection, batched (sql-batches.ts).
      while (j < post.length && !PARALLEL_POST.has(post[j].kind)) j++;
      await runSqlBatched(main, reader, post.slice(i, j), actions, ctx, batchLocks);
      i = j;
      continue;
    }
    while (j < post.length && PARALLEL_POST.has(post[j].kind)) j++;
    const batch = post.slice(i, j);
    const loads = batch.map((e): Task => ({ run: (w) => loadMembers(w, reader, [e], actions, ctx) }));
    await runTaskGraph(workers, loads, [], ctx.signal, { notify: () => {} });
    i = j;
  }
}

/** The ctid of the last row of a table just filled by COPY (looking only at its last pages). */
async function lastCtid(client: pg.ClientBase, rel: string): Promise<string | null> {
  const pages = Number((await client.query(`SELECT pg_catalog.pg_relation_size($1::regclass) / pg_catalog.current_setting('block_size')::int AS p`, [rel])).rows[0].p);
  // Bulk extension may leave empty pages at the end: widen the window until a row shows up.
  for (let k = 4; ; k *= 8) {
    const from = Math.max(0, pages - k);
    const r = await client.query(`SELECT max(ctid)::text AS c FROM ONLY ${rel} WHERE ctid >= '(${from},0)'::tid`);
    if (r.rows[0].c) return r.rows[0].c as string;
    if (from === 0) return null;
  }
}

/** Hash of one chunk re-read by TID range: `copy line + rows + \.` as the backup hashed it. */
async function readChunkRange(client: pg.ClientBase, copyLine: string, rel: string, columns: string[], from: string, to: string): Promise<{ rows: number; sha: string }> {
  const cols = columns.map(quoteIdent).join(', ');
  const h = createHash('sha256').update(`${copyLine}\n`);
  let rows = 0;
  const stream = client.query(copyTo(`COPY (SELECT ${cols} FROM ONLY ${rel} WHERE ctid > '${from}'::tid AND ctid <= '${to}'::tid) TO STDOUT`));
  for await (const b of stream as AsyncIterable<Buffer>) {
    h.update(b);
    rows += countNewlines(b);
  }
  h.update('\\.\n');
  return { rows, sha: h.digest('hex') };
}

