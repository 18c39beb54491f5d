import { createHash } from 'node:crypto';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { AppError, oneLine, toAppError } from '../../errors';
import { latestMigrationName } from '../../db/migrate';
import type { StorageBackend } from '../../storage/storage-backend';
import { ByteReader, checkArchiveSha, contentShaOf, countNewlines, describeEntry, manifestProblems, parseManifest, readMember } from '../archive-reader';
import type { ManifestEntry } from '../manifest';
import { copyMember, readSqlMember } from './load-member';
import type { RestorePlan, RestoreProgress, RestoreResult, RestoredTable } from './restore-backup';
import { migrationNewer, redactTarget, resolveSource } from './restore-backup';
import { copyOutputSettingsSql } from '../session-settings';
import { readTableContent } from './table-content';
import { freshConflicts, qrel } from './target-catalog';

export interface ParallelRestoreOptions {
  source: string;
  storage?: StorageBackend;
  targetUrl: string;
  /** Connections (2..16). */
  jobs: number;
  force?: boolean;
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  onProgress?: (p: RestoreProgress) => void;
  signal?: AbortSignal;
}

/** Post-data kinds that only need their table (and nothing else post-data) to exist. */
const PARALLEL_POST = new Set(['INDEX', 'CONSTRAINT']);

/**
 * Fresh restore on `jobs` connections, trading atomicity for speed (`restore --jobs N`): pre-data
 * on one connection; then a task graph on all connections: each table loaded in its own
 * transaction (TRUNCATE + COPY FREEZE, biggest table first); as soon as a table is loaded, its
 * content re-read (a one-chunk table inside its load transaction, a multi-chunk one chunk by chunk
 * by TID range on whichever connection is free) and its own keys and indexes (as pg_restore builds
 * a table's indexes after its data); the rest of post-data (foreign keys after every key, partition
 * index attachments, triggers, ...) in archive order at the end. Every table's row count and
 * content hash is compared with the manifest, as in the atomic restore. NOT atomic: a failure
 * leaves a partly restored database (the error says so and that it must be dropped), which is why
 * it only targets an empty database and is never the default.
 */
export async function restoreParallel(opts: ParallelRestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const source = resolveSource(opts.source, opts.storage);
  const m = parseManifest(await source.manifestText(), source.label);
  const mp = manifestProblems(m);
  if (mp.length) throw new AppError('corrupt', `${source.label}: manifest is inconsistent: ${mp[0].problem}`);
  const appLevel = await latestMigrationName().catch(() => null);
  if (migrationNewer(m.app.migration, appLevel) && !opts.force) {
    throw new AppError('incompatible', `backup ${m.id} was taken at migration ${m.app.migration}, newer than this app's ${appLevel}: upgrade the app or pass --force`);
  }
  const totalBytes = m.archive.sizeBytes;
  await checkArchiveSha(source, m, (n) => opts.onProgress?.({ phase: 'checking', bytesRead: n, totalBytes, rowsLoaded: 0, totalRows: 0, tablesDone: 0, totalTables: 0 }), opts.signal);
  const target = redactTarget(opts.targetUrl);
  const clients: pg.Client[] = [];
  const connect = async () => {
    const c = new pg.Client({ connectionString: opts.targetUrl, application_name: 'tickethub-restore' });
    try {
      await c.connect();
    } catch (err) {
      throw toAppError(err, `cannot connect to the target ${target}`);
    }
    c.on('error', () => {});
    // The output settings the backup read its rows with (see restore-backup.ts).
    await c.query(copyOutputSettingsSql());
    // As in the atomic restore: index builds sort in memory; a table's commit need not wait for
    // its WAL flush (a crash mid-restore leaves a partial target either way, which must be dropped).
    await c.query(`SET maintenance_work_mem = '256MB'; SET synchronous_commit = off`);
    clients.push(c);
    return c;
  };
  let started2 = false;
  try {
    const main = await connect();
    const createdSchemas = m.entries.filter((e) => e.kind === 'SCHEMA').map((e) => e.name);
    const c = await freshConflicts(main, m.source.schemas, createdSchemas);
    if (c.total > 0) throw new AppError('conflict', `target ${target} is not empty: it has ${c.sample.join(', ')}; --jobs restores only into an empty database`);
    const plan: RestorePlan = {
      id: m.id,
      source: source.label,
      mode: 'fresh',
      target,
      backupStartedAt: m.startedAt,
      backupMigration: m.app.migration,
      objects: m.entries.length - 1,
      tables: m.tables.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows })),
      rows: m.totals.rows,
      archiveBytes: totalBytes,
      actions: [`load on ${opts.jobs} connections in parallel — NOT atomic: a failure leaves a partial database`],
    };
    if (opts.confirm && !(await opts.confirm(plan))) throw new AppError('aborted', 'restore cancelled: nothing was changed');
    const workers = [main];
    for (let i = 1; i < opts.jobs; i++) workers.push(await connect());
    const header = m.entries.find((e) => e.section === 'header');
    const readEntry = async <T>(e: ManifestEntry, consume: Parameters<typeof readMember<T>>[2]): Promise<T> => {
      const stream = await source.openArchive({ start: e.offset, end: e.offset + e.length - 1 });
      const reader = new ByteReader(stream);
      try {
        return await readMember(reader, e.length, consume);
      } finally {
        stream.destroy();
      }
    };
    const exec = async (client: pg.Client, e: ManifestEntry) => {
      const sql = await readEntry(e, (out) => readSqlMember(out, e));
      try {
        if (sql.trim()) await client.query(sql);
      } catch (err) {
        throw new AppError('db_error', `${describeEntry(e)}: ${oneLine(toAppError(err).message)}`, { cause: err });
      }
    };
    started2 = true;
    if (header) for (const w of workers) await exec(w, header);
    let rowsLoaded = 0;
    let tablesDone = 0;
    let bytesDone = 0;
    const progress = (current?: string, phase: RestoreProgress['phase'] = 'loading') =>
      opts.onProgress?.({ phase, bytesRead: bytesDone, totalBytes, rowsLoaded, totalRows: m.totals.rows, tablesDone, totalTables: m.tables.length, current });
    let failed = false;
    const pool = async <T>(items: T[], fn: (w: pg.Client, item: T) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        workers.map(async (w) => {
          while (next < items.length && !failed) {
            if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
            const item = items[next++];
            try {
              await fn(w, item);
            } catch (err) {
              failed = true;
              throw err;
            }
          }
        }),
      );
    };
    for (const e of m.entries.filter((x) => x.section === 'pre-data')) {
      progress(describeEntry(e));
      await exec(main, e);
      bytesDone += e.length;
    }

    // ---- data, verification and the tables' own keys/indexes as one task graph ----
    // Work becomes ready as its inputs are: a table's load first (biggest first, so no large table
    // starts last); when it commits, its content re-read and its keys/indexes (as pg_restore
    // builds a table's indexes right after its data). So verification and index builds overlap
    // the loads of other tables instead of being serial passes at the end.
    const report: RestoredTable[] = [];
    const tableKey = (schema: string | null, name: string) => `${schema}\u0000${name}`;
    const loadedTables = new Set(m.tables.filter((t) => t.entries.length > 0).map((t) => tableKey(t.schema, t.name)));
    // Keys and indexes of a loaded table need nothing but that table (pre-data made everything
    // else they reference): they run early. Everything else post-data (foreign keys, which need
    // every referenced key; triggers; partition attachments; matview refreshes) waits for the end.
    const early = new Map<string, ManifestEntry[]>();
    const earlyDone = new Set<number>();
    for (const e of m.entries) {
      if (e.section !== 'post-data' || !PARALLEL_POST.has(e.kind) || e.table === undefined) continue;
      const k = tableKey(e.schema, e.table);
      if (!loadedTables.has(k)) continue;
      early.set(k, [...(early.get(k) ?? []), e]);
      earlyDone.add(e.index);
    }
    type Task = { run: (w: pg.Client) => Promise<void> };
    const loads: Task[] = [];
    const ready: Task[] = [];
    let running = 0;
    let wake: (() => void) | null = null;
    const notify = () => {
      const f = wake;
      wake = null;
      f?.();
    };
    const afterCommit = (t: (typeof m.tables)[number]) => {
      for (const e of early.get(tableKey(t.schema, t.name)) ?? []) {
        ready.push({
          run: async (w) => {
            progress(describeEntry(e));
            await exec(w, e);
            bytesDone += e.length;
          },
        });
      }
      notify();
    };
    const tasks = m.tables
      .filter((t) => t.entries.length > 0)
      .map((t) => ({ t, entries: t.entries.map((i) => m.entries[i]) }))
      .sort((a, b) => b.entries.reduce((s, e) => s + e.length, 0) - a.entries.reduce((s, e) => s + e.length, 0));
    for (const task of tasks) {
      loads.push({
        run: async (w) => {
          const t = task.t;
          const rel = qrel(t.schema, t.name);
          // One transaction per table: TRUNCATE of the just-created table allows COPY FREEZE
          // (rows written frozen, pages all-visible: the re-read below sets no hint bits).
          // All chunks stay in this ONE transaction on purpose: only a COPY into a relfilenode new
          // in its transaction skips the free space map. A COPY in a later transaction records
          // each page it leaves in the FSM and puts later, smaller rows into that leftover space,
          // so physical order stops being archive order and the content hash fails (measured on
          // 15 and 17: 600k variable-width rows in three COPYs, the 2nd and 3rd committed
          // separately: 5,644 resp. 1,036 rows out of order, the 3rd chunk's TID range overlapping
          // the 2nd's). So committing chunk by chunk to re-read them during the load is not an option.
          await w.query('BEGIN');
          await w.query(`TRUNCATE ONLY ${rel}`);
          const ends: string[] = [];
          let last: string | null = '(0,0)';
          for (const e of task.entries) {
            if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
            progress(describeEntry(e));
            const rows = await readEntry(e, (out) => copyMember(w, out, e, e.copy!, { signal: opts.signal, freeze: true }));
            rowsLoaded += rows;
            bytesDone += e.length;
            if (task.entries.length > 1 && last !== null && rows > 0) last = await lastCtid(w, rel);
            if (last !== null) ends.push(last);
          }
          if (t.dataExcluded) {
            await w.query('COMMIT');
            afterCommit(t);
            return;
          }
          if (task.entries.length === 1 || ends.length !== task.entries.length) {
            // One chunk (or chunk ends unknown): re-read the whole table here, on the loading
            // connection inside its own transaction, while other connections still load.
            progress(`${t.schema}.${t.name}`, 'verifying');
            const c2 = await readTableContent(w, m, t);
            await w.query('COMMIT');
            tablesDone++;
            report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows: c2.rows, contentMatches: c2.contentSha256 === t.contentSha256 });
            afterCommit(t);
            return;
          }
          await w.query('COMMIT');
          // Its index builds first (each one indivisible, so longest-first), then the chunk re-reads.
          afterCommit(t);
          // Several chunks: each chunk's rows are a TID range (the table was filled in chunk order
          // by one COPY FREEZE transaction, appending pages), re-read on whichever connection is
          // free, so one big table's check is spread over all connections.
          const shas: ({ rows: number; sha: string } | undefined)[] = new Array(task.entries.length);
          let left = task.entries.length;
          task.entries.forEach((e, ci) => {
            ready.push({
              run: async (w2) => {
                progress(`${t.schema}.${t.name}`, 'verifying');
                shas[ci] = await readChunkRange(w2, e.copy!, rel, t.columns, ci === 0 ? '(0,0)' : ends[ci - 1], ends[ci]);
                if (--left === 0) {
                  const rows = shas.reduce((s2, c2) => s2 + c2!.rows, 0);
                  tablesDone++;
                  report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows, contentMatches: contentShaOf(shas.map((c2) => c2!.sha)) === t.contentSha256 });
                }
              },
            });
          });
          notify();
        },
      });
    }
    await Promise.all(
      workers.map(async (w) => {
        for (;;) {
          if (failed) return;
          if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
          // Loads first: they are the long pole; verification and indexes fill the gaps.
          const task = loads.shift() ?? ready.shift();
          if (!task) {
            if (running === 0) {
              notify();
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
            notify();
            throw err;
          } finally {
            running--;
          }
          notify();
        }
      }),
    );
    for (const t of m.tables) {
      if (t.entries.length === 0 && !t.dataExcluded) {
        tablesDone++;
        report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows: 0, contentMatches: t.contentSha256 === contentShaOf([]) });
      }
    }
    for (const e of m.entries.filter((x) => x.section === 'sequence-set')) await exec(main, e);
    const post = m.entries.filter((x) => x.section === 'post-data' && !earlyDone.has(x.index));
    for (let i = 0; i < post.length; ) {
      if (PARALLEL_POST.has(post[i].kind)) {
        let j = i;
        while (j < post.length && PARALLEL_POST.has(post[j].kind)) j++;
        await pool(post.slice(i, j), async (w, e) => {
          progress(describeEntry(e));
          await exec(w, e);
          bytesDone += e.length;
        });
        i = j;
      } else {
        progress(describeEntry(post[i]));
        await exec(main, post[i]);
        bytesDone += post[i].length;
        i++;
      }
    }
    report.sort((a, b) => (a.schema + a.name).localeCompare(b.schema + b.name));
    const bad = report.filter((t) => t.rows !== t.expectedRows || !t.contentMatches);
    if (bad.length) {
      throw new AppError('verification_failed', `restored data does not match backup ${m.id}: ${bad.map((t) => `${t.schema}.${t.name}`).join(', ')}`, { details: { tables: report } });
    }
    return { id: m.id, mode: 'fresh', target, committed: true, plan, tables: report, rows: report.reduce((s, t) => s + t.rows, 0), durationMs: Date.now() - started };
  } catch (err) {
    const ae = toAppError(err);
    const suffix = started2 ? ' — parallel restore (not atomic): the target is PARTLY restored; drop and recreate it before retrying' : '';
    throw new AppError(ae.code, `${oneLine(ae.message)}${suffix}`, { cause: err, details: { ...(ae.details ?? {}), rolledBack: false, phase: started2 ? 'transaction' : 'checks' } });
  } finally {
    for (const c of clients) await c.end().catch(() => {});
  }
}

/** The ctid of the last row of a table just filled by COPY (looking only at its last pages). */
async function lastCtid(client: pg.Client, rel: string): Promise<string | null> {
  const pages = Number((await client.query(`SELECT pg_catalog.pg_relation_size('${rel.replace(/'/g, "''")}') / pg_catalog.current_setting('block_size')::int AS p`)).rows[0].p);
  // Bulk extension may leave empty pages at the end: widen the window until a row shows up.
  for (let k = 4; ; k *= 8) {
    const from = Math.max(0, pages - k);
    const r = await client.query(`SELECT max(ctid)::text AS c FROM ONLY ${rel} WHERE ctid >= '(${from},0)'::tid`);
    if (r.rows[0].c) return r.rows[0].c as string;
    if (from === 0) return null;
  }
}

/** Hash of one chunk re-read by TID range: `copy line + rows + \.` as the backup hashed it. */
async function readChunkRange(client: pg.Client, copyLine: string, rel: string, columns: string[], from: string, to: string): Promise<{ rows: number; sha: string }> {
  const cols = columns.map((c) => `"${c.replace(/"/g, '""')}"`).join(', ');
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
