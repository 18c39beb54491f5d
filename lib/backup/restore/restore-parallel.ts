import type pg from 'pg';
import { AppError, oneLine, toAppError } from '../../errors';
import { ArchiveSpool } from '../archive-spool';
import { batchLockLimit, readLockBudget } from '../lock-budget';
import { restoreSessionSettingsSql } from '../session-settings';
import type { LoadContext } from './load-loop';
import { binaryCopyWanted, checkReport, loadMembers, lz4Warning, rangedReader, serverWarnings, unpopulatedMatviews } from './load-loop';
import { loadPostData, loadTablesInParallel } from './parallel-load';
import { planFresh } from './plan-fresh';
import { connectTarget, preflight, redactTarget, startArchiveCheck } from './preflight';
import { runSqlBatched } from './sql-batches';
import type { LoadCounters, ParallelRestoreOptions, RestoreProgress, RestoreResult } from './restore-types';
import { encodingWarnings, targetHasLz4 } from './target-catalog';

/** A worker connection with the backup's output settings (see one-transaction.ts). */
async function connectWorker(url: string, clients: pg.Client[]): Promise<pg.Client> {
  const { client } = await connectTarget(url);
  clients.push(client);
  client.on('error', () => {});
  await client.query(restoreSessionSettingsSql());
  // As in the atomic restore: index builds sort in memory; a table's commit need not wait for
  // its WAL flush (a crash mid-restore leaves a partial target either way, which must be dropped).
  await client.query(`SET maintenance_work_mem = '256MB'; SET synchronous_commit = off`);
  return client;
}

/** Ends the message of a parallel restore that failed while loading (the caller may have dropped the target since). */
export const PARTLY_RESTORED = ' — parallel restore (not atomic): the target is PARTLY restored; drop and recreate it before retrying';

/**
 * Fresh restore on `jobs` connections, trading atomicity for speed (`restore --jobs N`): the same
 * preflight and fresh planner as the atomic restore, the same load loop on every connection:
 * pre-data on one connection; then tables, their content checks and their own keys/indexes as a
 * task graph on all connections (parallel-load.ts); sequence values; the rest of post-data in
 * archive order. Every table's row count (and content hash, with the check on) is compared with
 * the manifest. NOT atomic: a failure leaves a partly restored database (the error says so and that
 * it must be dropped), which is why it only targets an empty database and is never the default.
 */
export async function restoreParallel(opts: ParallelRestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  // Each member is read by its own range: an encrypted archive is decrypted once, into a spool.
  const spool = new ArchiveSpool();
  const checked = await preflight(opts, 'fresh', spool).catch(async (err: unknown) => {
    await spool.dispose();
    throw err;
  });
  if (checked.kind === 'script') await spool.dispose();
  if (checked.kind === 'script') throw new AppError('usage', `${checked.source.label}: --jobs needs the backup's manifest; without one, restore without --jobs (--force loads it as a plain script)`);
  const m = checked.manifest;
  const target = redactTarget(opts.targetUrl);
  const clients: pg.Client[] = [];
  let loading = false;
  // The archive's SHA-256 is read while the connections open and the plan is made; nothing is
  // written before it has passed (a bad archive leaves the target untouched).
  const archive = startArchiveCheck(checked, opts.signal);
  try {
    const main = await connectWorker(opts.targetUrl, clients);
    checked.warnings.push(...(await encodingWarnings(main, m.source.encoding)));
    const withoutLz4 = (await targetHasLz4(main)) ? undefined : ([] as string[]);
    const lp = await planFresh({ ...checked, client: main, target, opts, mode: 'fresh' }, '--jobs restores only into an empty database');
    // Small objects commit many to a transaction, each transaction within its share of the target's lock table.
    const batchLocks = Math.min(batchLockLimit(await readLockBudget(main), opts.jobs), opts.maxBatchLocks ?? Infinity);
    lp.plan.actions.push(`load on ${opts.jobs} connections in parallel — NOT atomic: a failure leaves a partial database`);
    opts.onPlan?.(lp.plan);
    if (opts.confirm && !(await opts.confirm(lp.plan))) throw new AppError('aborted', 'restore cancelled: nothing was changed');
    const fromServer = serverWarnings(main);
    const workers = [main];
    for (let i = 1; i < opts.jobs; i++) workers.push(await connectWorker(opts.targetUrl, clients));
    await archive.done;
    loading = true;
    const reader = rangedReader(checked.source, checked.manifest);
    const counters: LoadCounters = { bytesRead: 0, rowsLoaded: 0, tablesDone: 0 };
    const progress = (current: string, phase: RestoreProgress['phase'] = 'loading') =>
      opts.onProgress?.({ phase, bytesRead: reader.position, totalBytes: m.archive.sizeBytes, rowsLoaded: counters.rowsLoaded, totalRows: lp.plan.rows, tablesDone: counters.tablesDone, totalTables: lp.tables.length, current });
    const ctx: LoadContext = { counters, signal: opts.signal, loaded: new Map(), withoutLz4, binary: binaryCopyWanted(), onMember: (current) => progress(current) };
    const header = m.entries.filter((e) => e.section === 'header');
    for (const w of workers) await loadMembers(w, reader, header, lp.actions, ctx);
    await runSqlBatched(main, reader, m.entries.filter((e) => e.section === 'pre-data'), lp.actions, ctx, batchLocks);
    const { report, earlyDone } = await loadTablesInParallel(workers, reader, m, lp.actions, ctx, { checkContent: Boolean(opts.checkContent), onVerify: (what) => progress(what, 'verifying'), batchLocks, tables: lp.tables });
    await runSqlBatched(main, reader, m.entries.filter((e) => e.section === 'sequence-set'), lp.actions, ctx, batchLocks);
    await loadPostData(workers, main, reader, m.entries.filter((e) => e.section === 'post-data' && !earlyDone.has(e.index)), lp.actions, ctx, batchLocks);
    const warnings = [...(await unpopulatedMatviews(main, m.entries, lp.actions)), ...fromServer(), ...lz4Warning(withoutLz4)];
    report.sort((a, b) => (a.schema + a.name).localeCompare(b.schema + b.name));
    checkReport(m, report);
    return { id: m.id, mode: 'fresh', target, committed: true, plan: lp.plan, tables: report, rows: report.reduce((s, t) => s + t.rows, 0), durationMs: Date.now() - started, checked: { memberSha256: true, rowCounts: true, content: Boolean(opts.checkContent) }, binaryRows: counters.binaryRows ?? 0, warnings };
  } catch (err) {
    const ae = toAppError(loading ? err : await archive.explain(err));
    const suffix = loading ? PARTLY_RESTORED : '';
    throw new AppError(ae.code, `${oneLine(ae.message)}${suffix}`, { cause: err, details: { ...(ae.details ?? {}), rolledBack: false, phase: loading ? 'transaction' : 'checks' } });
  } finally {
    archive.stop();
    for (const c of clients) await c.end().catch(() => {});
    await spool.dispose();
  }
}
