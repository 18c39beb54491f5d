import pg from 'pg';
import { databaseUrl as envDatabaseUrl } from '../db/pool';
import { AppError, oneLine, toAppError } from '../errors';
import type { ErrorCode } from '../errors';
import { openStorage } from '../storage/open-storage';
import type { StorageBackend } from '../storage/storage-backend';
import { raiseAlerts } from './alerts/incidents';
import type { Observation } from './alerts/incidents';
import type { IncidentKind } from './alerts/alert-messages';
import { backupHealth, maxAgeHoursFromEnv } from './backup-health';
import { backupHealthFacts, hasBackupRuns, insertFailedRun, lastDrillAt, recentGoodTotals, recoverStaleRuns } from './backup-runs';
import { newBackupId } from './backup-id';
import { drillPolicyFromEnv, runDrill, scheduledDrillDue } from './drill';
import type { DrillResult } from './drill';
import { failedKey, listFailedMarkers, writeFailedMarker } from './failed-marker';
import { pruneBackups, retentionSettings } from './prune';
import type { RetentionSettings } from './prune';
import type { RetentionDecision } from './retention';
import { runBackup } from './run-backup';
import { assertNotTransactionPoolerUrl, assertSessionConnection } from './session-pooler';
import { scheduleFromEnv, slotOf } from './schedule';
import type { BackupSchedule } from './schedule';
import { claimSlot, finishSlot, hasLedger, releaseSlot, waitForSlot } from './schedule-ledger';
import type { SlotSource } from './schedule-ledger';

export { RETENTION_DEFAULTS, retentionSettings } from './prune';

type Env = Record<string, string | undefined>;

export interface ScheduledBackupOptions {
  /** Database to back up (and whose backup_runs/activity_logs are written); default DATABASE_URL. */
  databaseUrl?: string;
  /** Where backups go; default openStorage() (BACKUP_STORAGE_URL). Closed here only if opened here. */
  storage?: StorageBackend;
  /** Who runs the job: the in-process scheduler, the cron route or `run-scheduled` (default 'cron'). */
  source?: SlotSource;
  /**
   * The schedule whose slot this run is (exactly once per slot); default BACKUP_SCHEDULE/BACKUP_TZ.
   * null: no slot (every call runs).
   */
  schedule?: BackupSchedule | null;
  /** The clock: picks the slot and is the retention reference time (default: now). */
  now?: Date;
  /** How long a call for a slot another process is running waits for it before answering busy (default 0). */
  waitMs?: number;
  /**
   * How long the job waits for ANOTHER backup (a manual or CLI one) that holds the backup lock
   * before giving up (default 10 minutes): the slot is then left for a later call, not failed.
   */
  busyWaitMs?: number;
  /** Retention overrides; default from the environment (see prune.ts). */
  keepDays?: number;
  keepLast?: number;
  /** Environment to read settings from (default process.env). */
  env?: Env;
  /** Where progress lines go (default console.log / console.error). */
  log?: (line: string) => void;
}

export interface ScheduledBackupResult {
  /** 'skipped': the slot already ran; 'busy': another process is running it right now. */
  status: 'succeeded' | 'failed' | 'skipped' | 'busy';
  /** Why it was skipped/busy (one line). */
  reason?: string;
  /** The slot (ISO) this run belongs to, null without a schedule. */
  slot: string | null;
  /** The backup made, or null when it failed (then `error` says why and nothing was pruned). */
  backup: { id: string; status: 'succeeded'; tables: number; rows: number; sizeBytes: number; durationMs: number; sha256: string; warnings?: string[] } | null;
  /** For skipped/busy: the backup of the slot, if known. */
  backupId?: string | null;
  /** One-line cause of the failed backup. */
  error?: string;
  errorCode?: ErrorCode;
  retention: {
    kept: number;
    removed: RetentionDecision[];
    failed: { id: string; error: string }[];
    skipped?: string;
    error?: string;
  };
  /** The restore drill run by this job (when due), or why it could not run. */
  drill?: { ok: boolean; error: string | null; durationMs: number } | null;
  /** Alerts sent by this job. */
  alerts: { event: string; delivered: boolean }[];
}

const NO_RETENTION = { kept: 0, removed: [], failed: [] };

/**
 * THE scheduled job, used by every entry point (in-process scheduler, cron route, `run-scheduled`):
 * claim the slot (exactly once per slot) → backup (verified by the engine; trigger 'schedule' or
 * 'cron'; AUTOMATED_BACKUP activity row) → retention → restore drill when due (BACKUP_DRILL) →
 * alerts (once per incident). Never throws: every failure is in the result.
 *
 * When the database cannot be reached the failure is written to storage as `<id>.failed.json`
 * and the alert still goes out (incident state kept in storage); the next job with the database
 * back folds such files into backup_runs.
 */
export async function runScheduledBackup(opts: ScheduledBackupOptions = {}): Promise<ScheduledBackupResult> {
  const env = opts.env ?? process.env;
  const source = opts.source ?? 'cron';
  const now = opts.now ?? new Date();
  const failed = (err: unknown, slot: string | null = null): ScheduledBackupResult => {
    const e = toAppError(err);
    return { status: 'failed', slot, backup: null, error: oneLine(e.message), errorCode: e.code, retention: { ...NO_RETENTION, skipped: 'the backup failed: nothing was pruned' }, alerts: [] };
  };

  let url: string;
  let storage: StorageBackend | null = null;
  let schedule: BackupSchedule | null;
  try {
    schedule = opts.schedule === undefined ? scheduleFromEnv(env) : opts.schedule;
    url = opts.databaseUrl ?? envDatabaseUrl();
    // Before connecting: behind a transaction pooler the slot lock and the backup lock mean nothing.
    assertNotTransactionPoolerUrl(url);
  } catch (err) {
    return failed(err);
  }
  // A storage URL that cannot be opened (nothing checks it on Vercel) is a failed job like any other:
  // recorded in backup_runs and alerted below, once the database is reached.
  let storageError: AppError | null = null;
  try {
    storage = opts.storage ?? openStorage(env.BACKUP_STORAGE_URL);
  } catch (err) {
    const e = toAppError(err);
    storageError = new AppError(e.code, `BACKUP_STORAGE_URL: ${oneLine(e.message)}`, { cause: err });
  }
  const ownStorage = !opts.storage && !storageError;
  const slot = schedule ? slotOf(schedule, now) : null;
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: 'tickethub-scheduler', connectionTimeoutMillis: 15_000 });
  pool.on('error', () => {}); // an idle connection dropping must not crash the process
  let client: pg.PoolClient | null = null;
  try {
    try {
      client = await pool.connect();
      client.on('error', () => {});
    } catch (err) {
      if (storageError) return failed(storageError, slot?.toISOString() ?? null);
      return await databaseDown(err, { storage: storage!, env, now, source, slot });
    }
    await assertSessionConnection(client);
    if (storageError) {
      const e = storageError;
      return await withClaimedSlot(client, schedule, slot, source, opts.waitMs ?? 0, () => storageUnusable(client!, e, { env, source, slot }));
    }
    return await withClaimedSlot(client, schedule, slot, source, opts.waitMs ?? 0, () => jobBody({ pool, client: client!, url, storage: storage!, env, now, source, slot, opts }));
  } catch (err) {
    return failed(err, slot?.toISOString() ?? null);
  } finally {
    client?.release();
    await pool.end().catch(() => {});
    if (ownStorage) await storage?.close().catch(() => {});
  }
}

/** Runs `body` only if this process wins the slot; otherwise answers skipped/busy. */
async function withClaimedSlot(
  client: pg.ClientBase,
  schedule: BackupSchedule | null,
  slot: Date | null,
  source: SlotSource,
  waitMs: number,
  body: () => Promise<ScheduledBackupResult>,
): Promise<ScheduledBackupResult> {
  if (!schedule || !slot || !(await hasLedger(client))) return body();
  const claim = await claimSlot(client, schedule.key, slot, source);
  const base = { slot: slot.toISOString(), backup: null, retention: { ...NO_RETENTION, skipped: 'this slot is not ours' }, alerts: [] };
  if (!claim.claimed) {
    if (claim.status === 'running' && waitMs > 0) {
      const done = await waitForSlot(client, schedule.key, slot, waitMs);
      if (done?.status === 'succeeded') return { ...base, status: 'skipped', reason: `the ${slot.toISOString()} slot already ran`, backupId: done.backupId };
    }
    return { ...base, status: claim.status === 'succeeded' ? 'skipped' : 'busy', reason: claim.reason, backupId: claim.backupId };
  }
  let result: ScheduledBackupResult | undefined;
  try {
    result = await body();
    return result;
  } finally {
    // busy: another backup kept the lock all the time; the slot was not run, a later call may.
    if (result?.status === 'busy') await releaseSlot(client, schedule.key, slot);
    else if (result) await finishSlot(client, schedule.key, slot, { ok: result.status === 'succeeded', backupId: result.backup?.id ?? null, error: result.error }).catch(() => {});
    else await releaseSlot(client, schedule.key, slot);
  }
}

interface JobContext {
  pool: pg.Pool;
  client: pg.PoolClient;
  url: string;
  storage: StorageBackend;
  env: Env;
  now: Date;
  source: SlotSource;
  slot: Date | null;
  opts: ScheduledBackupOptions;
}

async function jobBody(ctx: JobContext): Promise<ScheduledBackupResult> {
  const { pool, client, url, storage, env, source } = ctx;
  const slot = ctx.slot?.toISOString() ?? null;
  const recording = await hasBackupRuns(client);
  if (recording) await foldFailedMarkers(client, storage);
  // runBackup also fails stale runs once it holds the lock; doing it first keeps history right
  // even when the backup cannot start. Its failure is not the job's: the backup reports the cause.
  await recoverStaleRuns(pool).catch(() => []);

  const observation: Observation = { problems: [], cleared: [], now: new Date() };
  const problem = (event: IncidentKind, backupId: string | null, message: string, values?: Record<string, string | number | null>) =>
    observation.problems.push({ event, backupId, message, occurredAt: new Date().toISOString(), values });
  const alertsOf = async () => {
    const out = await raiseAlerts(observation, { db: recording ? client : null, storage, env });
    return out.sent.map((s) => ({ event: s.alert.event, delivered: s.deliveries.every((d) => d.ok) }));
  };

  let backup: NonNullable<ScheduledBackupResult['backup']>;
  const tableRows: Record<string, number> = {};
  try {
    const r = await whenNoOtherBackup(ctx.opts.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS, () => runBackup({ trigger: source === 'cron' ? 'cron' : 'schedule', databaseUrl: url, storage }));
    for (const t of r.manifest.tables) if (!t.dataExcluded) tableRows[`${t.schema}.${t.name}`] = t.rows;
    backup = { id: r.id, status: r.status, tables: r.tables, rows: r.rows, sizeBytes: r.sizeBytes, durationMs: r.durationMs, sha256: r.sha256, ...(r.warnings ? { warnings: r.warnings } : {}) };
  } catch (err) {
    const e = toAppError(err);
    if (e.code === 'conflict') {
      // Another backup (manual, CLI) still holds the lock: nothing failed, so no alert; the slot
      // stays open for a later call (withClaimedSlot releases it without recording a failure).
      return { status: 'busy', slot, backup: null, reason: `another backup is still running: ${oneLine(e.message)}`, retention: { ...NO_RETENTION, skipped: 'no backup was made: nothing was pruned' }, alerts: [] };
    }
    const res: ScheduledBackupResult = { status: 'failed', slot, backup: null, error: oneLine(e.message), errorCode: e.code, retention: { ...NO_RETENTION, skipped: 'the backup failed: nothing was pruned' }, alerts: [] };
    problem(e.code === 'verification_failed' ? 'verify_failed' : 'backup_failed', null, res.error!);
    if (recording) await staleness(client, env, observation);
    res.alerts = await alertsOf();
    return res;
  }
  observation.cleared.push('backup_failed', 'verify_failed');
  observation.recoveredBy = backup.id;
  const result: ScheduledBackupResult = { status: 'succeeded', slot, backup, retention: { ...NO_RETENTION }, alerts: [] };

  if (recording) await checkAnomaly(client, { ...backup, tables: tableRows }, problem, observation);

  let policy: RetentionSettings;
  try {
    policy = retentionSettings({ keepDays: ctx.opts.keepDays, keepLast: ctx.opts.keepLast, env });
    const p = await pruneBackups(client, storage, { ...policy, now: ctx.now });
    result.retention = { kept: p.kept, removed: p.removed, failed: p.failed };
  } catch (err) {
    result.retention = { ...NO_RETENTION, error: oneLine(toAppError(err).message) };
  }

  result.drill = await drillIfDue(ctx, backup.id, recording, problem, observation);
  if (recording) await staleness(client, env, observation);
  result.alerts = await alertsOf();
  return result;
}

/** Default of ScheduledBackupOptions.busyWaitMs. */
const DEFAULT_BUSY_WAIT_MS = 10 * 60_000;
const BUSY_POLL_MS = 2_000;

/**
 * Runs `backup`, and while it is refused because another backup holds the lock (AppError
 * 'conflict': one backup at a time), tries again every BUSY_POLL_MS for up to `waitMs`.
 */
async function whenNoOtherBackup<T>(waitMs: number, backup: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await backup();
    } catch (err) {
      if (toAppError(err).code !== 'conflict' || Date.now() + BUSY_POLL_MS > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, BUSY_POLL_MS));
  }
}

/** Adds `backup_stale` (no good backup for BACKUP_MAX_AGE_HOURS) to the observation, or clears it. Returns the health status. */
async function staleness(db: pg.ClientBase, env: Env, o: Observation): Promise<string> {
  const maxAgeHours = maxAgeHoursFromEnv(env);
  const h = backupHealth(await backupHealthFacts(db), { now: o.now, maxAgeHours });
  if (h.status === 'stale') {
    const msg = `the newest good backup finished at ${h.lastVerifiedBackupAt}, ${h.ageHours} hours ago`;
    o.problems.push({ event: 'backup_stale', backupId: null, message: msg, occurredAt: o.now.toISOString(), values: { message: msg, hours: h.ageHours, maxHours: maxAgeHours } });
  } else if (h.status === 'ok') o.cleared.push('backup_stale');
  return h.status;
}

/** BACKUP_DRILL (off / weekly / daily): restores the new backup into a scratch database when due. */
async function drillIfDue(
  ctx: JobContext,
  id: string,
  recording: boolean,
  problem: (k: IncidentKind, id: string | null, msg: string) => void,
  o: Observation,
): Promise<ScheduledBackupResult['drill']> {
  let due: boolean;
  try {
    due = scheduledDrillDue(drillPolicyFromEnv(ctx.env as NodeJS.ProcessEnv), recording ? await lastDrillAt(ctx.client) : null, new Date());
  } catch (err) {
    problem('drill_failed', id, oneLine(toAppError(err).message));
    return { ok: false, error: oneLine(toAppError(err).message), durationMs: 0 };
  }
  if (!due) return null;
  const t0 = Date.now();
  let r: DrillResult;
  try {
    r = await runDrill({ storage: ctx.storage, id, serverUrl: ctx.url, recordUrl: recording ? ctx.url : undefined });
  } catch (err) {
    const msg = `the restore drill could not run: ${oneLine(toAppError(err).message)}`;
    problem('drill_failed', id, msg);
    return { ok: false, error: msg, durationMs: Date.now() - t0 };
  }
  if (r.ok) o.cleared.push('drill_failed');
  else problem('drill_failed', id, r.error ?? 'restored tables differ from the backup');
  return { ok: r.ok, error: r.error, durationMs: r.durationMs };
}

/** A table's rows are compared only when its median is at least this many (tiny tables swing by nature). */
const ANOMALY_MIN_TABLE_ROWS = 20;

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The "someone deleted the tickets table" alarm: the backup's total rows or size, or the rows of a
 * table, below half the median of the last 7 good backups.
 */
async function checkAnomaly(
  db: pg.ClientBase,
  b: { id: string; rows: number; sizeBytes: number; tables: Record<string, number> },
  problem: (k: IncidentKind, id: string | null, msg: string, values?: Record<string, string | number | null>) => void,
  o: Observation,
): Promise<void> {
  const prev = await recentGoodTotals(db, b.id, 7).catch(() => []);
  if (!prev.length) return;
  const medianRows = median(prev.map((p) => p.rows));
  const medianSize = median(prev.map((p) => p.sizeBytes));
  const dropped: string[] = [];
  if (b.rows < medianRows / 2) dropped.push(`${b.rows} rows in all against a median of ${medianRows}`);
  if (b.sizeBytes < medianSize / 2) dropped.push(`${b.sizeBytes} bytes against a median of ${medianSize}`);
  for (const [table, rows] of Object.entries(b.tables)) {
    const m = median(prev.map((p) => Number(p.tables[table] ?? 0)));
    if (m >= ANOMALY_MIN_TABLE_ROWS && rows < m / 2) dropped.push(`${table}: ${rows} rows against a median of ${m}`);
  }
  if (!dropped.length) {
    o.cleared.push('anomaly');
    return;
  }
  const msg = `dropped by more than half against the last ${prev.length} good backups: ${dropped.join('; ')}`;
  problem('anomaly', b.id, msg, { message: msg });
}

/** Records failures written to storage while the database was down, then removes their files. */
async function foldFailedMarkers(db: pg.ClientBase, storage: StorageBackend): Promise<void> {
  for (const f of await listFailedMarkers(storage).catch(() => [])) {
    await insertFailedRun(db, f)
      .then(() => storage.delete(failedKey(f.id)))
      .catch(() => {});
  }
}

/** The storage cannot even be opened (bad BACKUP_STORAGE_URL): a failed run and a backup_failed alert. */
async function storageUnusable(db: pg.ClientBase, e: AppError, ctx: { env: Env; source: SlotSource; slot: Date | null }): Promise<ScheduledBackupResult> {
  const startedAt = new Date();
  const id = newBackupId(startedAt);
  const error = oneLine(e.message);
  const recording = await hasBackupRuns(db);
  if (recording) await insertFailedRun(db, { id, trigger: ctx.source === 'cron' ? 'cron' : 'schedule', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), error });
  const o: Observation = { problems: [{ event: 'backup_failed', backupId: recording ? id : null, message: error, occurredAt: new Date().toISOString() }], cleared: [], now: new Date() };
  if (recording) await staleness(db, ctx.env, o);
  const out = await raiseAlerts(o, { db: recording ? db : null, storage: null, env: ctx.env });
  return {
    status: 'failed',
    slot: ctx.slot?.toISOString() ?? null,
    backup: null,
    error,
    errorCode: e.code,
    retention: { ...NO_RETENTION, skipped: 'the backup failed: nothing was pruned' },
    alerts: out.sent.map((s) => ({ event: s.alert.event, delivered: s.deliveries.every((d) => d.ok) })),
  };
}

/** The database cannot be reached: the failure goes to storage and the alert still goes out. */
async function databaseDown(
  err: unknown,
  ctx: { storage: StorageBackend; env: Env; now: Date; source: SlotSource; slot: Date | null },
): Promise<ScheduledBackupResult> {
  const e = toAppError(err, 'cannot connect to the database');
  const startedAt = new Date();
  const id = newBackupId(startedAt);
  const error = oneLine(e.message);
  const res: ScheduledBackupResult = {
    status: 'failed',
    slot: ctx.slot?.toISOString() ?? null,
    backup: null,
    error,
    errorCode: e.code,
    retention: { ...NO_RETENTION, skipped: 'the backup failed: nothing was pruned' },
    alerts: [],
  };
  try {
    await writeFailedMarker(ctx.storage, { id, trigger: ctx.source === 'cron' ? 'cron' : 'schedule', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), error, code: e.code });
  } catch (werr) {
    console.error(`[backup] could not write ${failedKey(id)} to storage either: ${oneLine(toAppError(werr).message)}`);
  }
  const out = await raiseAlerts(
    { problems: [{ event: 'backup_failed', backupId: id, message: error, occurredAt: new Date().toISOString() }], cleared: [], now: new Date() },
    { db: null, storage: ctx.storage, env: ctx.env },
  );
  res.alerts = out.sent.map((s) => ({ event: s.alert.event, delivered: s.deliveries.every((d) => d.ok) }));
  return res;
}

/**
 * The hourly staleness check of the in-process scheduler: `backup_stale` when the newest good
 * backup is older than BACKUP_MAX_AGE_HOURS (one alert per incident). Never throws.
 */
export async function checkBackupStaleness(opts: { databaseUrl?: string; storage?: StorageBackend; env?: Env; now?: Date } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  let client: pg.Client | undefined;
  try {
    client = new pg.Client({ connectionString: opts.databaseUrl ?? envDatabaseUrl(), application_name: 'tickethub-scheduler' });
    client.on('error', () => {});
    await client.connect();
    if (!(await hasBackupRuns(client))) return 'no backup_runs table';
    const o: Observation = { problems: [], cleared: [], now: opts.now ?? new Date() };
    const status = await staleness(client, env, o);
    await raiseAlerts(o, { db: client, storage: opts.storage ?? null, env });
    return status;
  } catch (err) {
    return `staleness check failed: ${oneLine(toAppError(err).message)}`;
  } finally {
    await client?.end().catch(() => {});
  }
}
