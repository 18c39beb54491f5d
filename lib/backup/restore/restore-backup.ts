import { AppError } from '../../errors';
import { checkLockBudget, locksToDrop } from '../lock-budget';
import { binaryCopyWanted, lz4Warning, sequentialReader, loadMembers, serverWarnings, unpopulatedMatviews, verifyTables } from './load-loop';
import type { LoadContext } from './load-loop';
import { inOneTransaction, restoreFailure } from './one-transaction';
import { planDataOnly } from './plan-data-only';
import { planFresh } from './plan-fresh';
import { planIntoSchema } from './plan-into-schema';
import { planReplace } from './plan-replace';
import { connectTarget, preflight, redactTarget, restoreModeOf, startArchiveCheck } from './preflight';
import { restoreScriptWithoutManifest } from './restore-script';
import type { LoadCounters, LoadPlan, PlanContext, RestoreMode, RestoreOptions, RestoreProgress, RestoreResult } from './restore-types';
import { encodingWarnings, targetHasLz4 } from './target-catalog';

/** One planner per mode: each checks the target's readiness for it and says what every member does. */
const PLANNERS: Record<RestoreMode, (ctx: PlanContext) => Promise<LoadPlan>> = {
  fresh: (ctx) => planFresh(ctx),
  replace: planReplace,
  'data-only': planDataOnly,
  'into-schema': planIntoSchema,
};

/**
 * Restores a backup into `targetUrl` in ONE transaction on one connection: preflight (manifest,
 * format version, archive size, migration level) → the mode's planner (target readiness, the plan,
 * confirmation) → the load-and-verify loop inside the transaction → COMMIT only when the archive's
 * SHA-256 (read beside all this) and every member and table match the manifest. Any failure leaves
 * the target exactly as it was; AppError `details.rolledBack` says whether a transaction was undone.
 *
 * Modes: 'fresh' (empty target), 'replace' (backed-up schemas replaced), 'data-only' (chosen
 * tables emptied and reloaded), 'into-schema' (chosen tables created in a new schema).
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const mode = restoreModeOf(opts);
  const checked = await preflight(opts, mode);
  const target = redactTarget(opts.targetUrl);
  if (checked.kind === 'script') {
    const r = await restoreScriptWithoutManifest({ file: checked.file, targetUrl: opts.targetUrl, target, signal: opts.signal });
    const plan = { id: checked.source.id, source: checked.source.label, mode, target, backupStartedAt: 'unknown', backupMigration: null, objects: 0, tables: [], rows: r.rows, archiveBytes: 0, actions: ['no manifest (--force): loaded as a plain script, nothing verified'], warnings: checked.warnings };
    return { id: checked.source.id, mode, target, committed: true, plan, tables: r.tables, rows: r.rows, durationMs: Date.now() - started, checked: { memberSha256: false, rowCounts: false, content: false }, warnings: [] };
  }
  const m = checked.manifest;
  // The archive's SHA-256 is read beside the connect, the plan and the load; COMMIT waits for it.
  const archive = startArchiveCheck(checked, opts.signal);
  const conn = await connectTarget(opts.targetUrl).catch((err: unknown) => {
    archive.stop();
    throw err;
  });
  const tx = { open: false };
  try {
    checked.warnings.push(...(await encodingWarnings(conn.client, m.source.encoding)));
    const withoutLz4 = (await targetHasLz4(conn.client)) ? undefined : ([] as string[]);
    const lp = await PLANNERS[mode]({ ...checked, client: conn.client, target, opts, mode });
    // One transaction must fit the target's lock table: refuse now, not at the 10,000th table.
    if (mode === 'fresh' || mode === 'replace') await checkLockBudget(conn.client, m, mode === 'replace' ? await locksToDrop(conn.client, m.source.schemas) : 0, mode);
    opts.onPlan?.(lp.plan);
    if (opts.confirm && !(await opts.confirm(lp.plan))) throw new AppError('aborted', 'restore cancelled: nothing was changed');
    if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted before it started: nothing was changed');
    const counters: LoadCounters = { bytesRead: 0, rowsLoaded: 0, tablesDone: 0 };
    const warnings: string[] = [];
    const fromServer = serverWarnings(conn.client);
    const progress = (phase: RestoreProgress['phase'], current: string, tablesDone = counters.tablesDone) =>
      opts.onProgress?.({ phase, bytesRead: counters.bytesRead, totalBytes: m.archive.sizeBytes, rowsLoaded: counters.rowsLoaded, totalRows: lp.plan.rows, tablesDone, totalTables: lp.tables.length, current });
    const tables = await inOneTransaction(conn.client, opts.targetUrl, tx, opts.signal, async (client) => {
      await lp.prepare(client);
      const reader = await sequentialReader(checked.source, checked.manifest);
      const ctx: LoadContext = { counters, signal: opts.signal, loaded: new Map(), warnings, withoutLz4, binary: binaryCopyWanted(), lost: () => conn.lost() ?? archive.failure(), beforeSequences: () => archive.done, onMember: (current) => ((counters.bytesRead = reader.position), progress('loading', current)) };
      try {
        await loadMembers(client, reader, m.entries, lp.actions, ctx);
      } finally {
        await reader.close();
      }
      await lp.finish(client);
      warnings.push(...(await unpopulatedMatviews(client, m.entries, lp.actions)), ...fromServer(), ...lz4Warning(withoutLz4));
      await archive.done;
      return verifyTables(client, m, lp.tables, ctx.loaded, { checkContent: Boolean(opts.checkContent), locate: lp.locate, signal: opts.signal, onTable: (t, i) => progress('verifying', `${t.schema}.${t.name}`, i) });
    });
    return { id: m.id, mode, target, committed: true, plan: lp.plan, tables, rows: tables.reduce((s, t) => s + t.rows, 0), durationMs: Date.now() - started, checked: { memberSha256: true, rowCounts: true, content: Boolean(opts.checkContent) }, binaryRows: counters.binaryRows ?? 0, warnings };
  } catch (err) {
    throw await restoreFailure(await archive.explain(err), conn.client, tx);
  } finally {
    archive.stop();
    await conn.client.end().catch(() => {});
  }
}
