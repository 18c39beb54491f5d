import pg from 'pg';
import { logActivity } from '../activity/log-activity';
import { databaseUrl as envDatabaseUrl } from '../db/pool';
import { AppError, oneLine, toAppError } from '../errors';
import type { ErrorCode } from '../errors';
import { openStorage } from '../storage/open-storage';
import type { StorageBackend } from '../storage/storage-backend';
import { hasBackupRuns, recoverStaleRuns } from './backup-runs';
import { listBackups } from './list-backups';
import { archiveKey, manifestKey } from './manifest';
import { planRetention } from './retention';
import type { RetentionCandidate, RetentionDecision } from './retention';
import { runBackup } from './run-backup';

/** Defaults of the retention policy applied after every scheduled backup. */
export const RETENTION_DEFAULTS = { keepDays: 30, keepLast: 7 } as const;

export interface ScheduledBackupOptions {
  /** Database to back up (and whose backup_runs/activity_logs are written); default DATABASE_URL. */
  databaseUrl?: string;
  /** Where backups go; default openStorage() (BACKUP_STORAGE_URL). Closed here only if opened here. */
  storage?: StorageBackend;
  /** Reference time of the retention plan; default: the clock once the backup has finished. */
  now?: Date;
  /** Retention overrides; default BACKUP_RETENTION_DAYS / BACKUP_RETENTION_MIN, else RETENTION_DEFAULTS. */
  keepDays?: number;
  keepLast?: number;
  /** Environment to read settings from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface ScheduledBackupResult {
  /** The backup made, or null when it failed (then `error` says why and nothing was pruned). */
  backup: { id: string; status: 'succeeded'; tables: number; rows: number; sizeBytes: number; durationMs: number; sha256: string; warnings?: string[] } | null;
  /** One-line cause of the failed backup. */
  error?: string;
  errorCode?: ErrorCode;
  retention: {
    /** Backups (and failed runs) the policy kept. */
    kept: number;
    /** Pruned completely: storage objects deleted and backup_runs row deleted. */
    removed: RetentionDecision[];
    /** Planned for removal but not (fully) removed; retried by the next run. */
    failed: { id: string; error: string }[];
    /** Why retention did not run at all (today's backup failed). */
    skipped?: string;
    /** Retention could not run (bad BACKUP_RETENTION_* value, storage unlistable). */
    error?: string;
  };
}

/** Parses a whole-number setting ≥ 0, or AppError('config') naming the variable. */
function wholeSetting(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new AppError('config', `${name} must be a whole number of ${name.endsWith('DAYS') ? 'days' : 'backups'} >= 0, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** The retention policy in effect: options, else BACKUP_RETENTION_DAYS / BACKUP_RETENTION_MIN, else 30 / 7. */
export function retentionSettings(opts: Pick<ScheduledBackupOptions, 'keepDays' | 'keepLast' | 'env'> = {}): { keepDays: number; keepLast: number } {
  const env = opts.env ?? process.env;
  return {
    keepDays: opts.keepDays ?? wholeSetting(env, 'BACKUP_RETENTION_DAYS', RETENTION_DEFAULTS.keepDays),
    keepLast: opts.keepLast ?? wholeSetting(env, 'BACKUP_RETENTION_MIN', RETENTION_DEFAULTS.keepLast),
  };
}

const message = (err: unknown) => oneLine(toAppError(err).message);

/**
 * The daily scheduled job, framework-free (the cron route only calls this): marks stale 'running'
 * runs failed, runs one backup (trigger 'cron'; the engine records backup_runs and the
 * AUTOMATED_BACKUP / BACKUP_FAILED activity row), then applies retention. Never throws: every
 * failure is in the result.
 *
 * Retention runs only after a successful backup (a failing job must never delete the backups it
 * failed to replace). Candidates are the succeeded backups in storage (the source of truth) plus
 * the failed/running rows of backup_runs; archives without a manifest that no failed row explains
 * and unreadable manifests are left alone. A pruned backup loses its manifest first, then its
 * archive (so a half-deleted backup is never listed as good), then its backup_runs row is deleted.
 * One BACKUP_RETENTION activity row lists what was removed (written only when something was
 * removed or failed to be removed).
 */
export async function runScheduledBackup(opts: ScheduledBackupOptions = {}): Promise<ScheduledBackupResult> {
  const env = opts.env ?? process.env;
  const noRetention = { kept: 0, removed: [], failed: [] };
  const failed = (err: unknown): ScheduledBackupResult => {
    const e = toAppError(err);
    return { backup: null, error: oneLine(e.message), errorCode: e.code, retention: { ...noRetention, skipped: 'the backup failed: nothing was pruned' } };
  };

  let url: string;
  let storage: StorageBackend;
  const ownStorage = !opts.storage;
  try {
    url = opts.databaseUrl ?? envDatabaseUrl();
    storage = opts.storage ?? openStorage(env.BACKUP_STORAGE_URL);
  } catch (err) {
    return failed(err);
  }

  const pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'tickethub-cron' });
  pool.on('error', () => {}); // an idle connection dropping must not crash the process
  try {
    // runBackup also fails stale runs once it holds the lock; doing it first keeps history right
    // even when the backup cannot start. Its failure is not the job's: the backup reports the cause.
    await recoverStaleRuns(pool).catch(() => []);

    let backup: NonNullable<ScheduledBackupResult['backup']>;
    try {
      const r = await runBackup({ trigger: 'cron', databaseUrl: url, storage });
      backup = { id: r.id, status: r.status, tables: r.tables, rows: r.rows, sizeBytes: r.sizeBytes, durationMs: r.durationMs, sha256: r.sha256, ...(r.warnings ? { warnings: r.warnings } : {}) };
    } catch (err) {
      return failed(err);
    }

    let policy: { keepDays: number; keepLast: number };
    try {
      policy = retentionSettings({ keepDays: opts.keepDays, keepLast: opts.keepLast, env });
    } catch (err) {
      return { backup, retention: { ...noRetention, error: message(err) } };
    }
    return { backup, retention: await applyRetention(pool, storage, { ...policy, now: opts.now ?? new Date() }) };
  } finally {
    await pool.end().catch(() => {});
    if (ownStorage) await storage.close().catch(() => {});
  }
}

async function applyRetention(
  pool: pg.Pool,
  storage: StorageBackend,
  policy: { keepDays: number; keepLast: number; now: Date },
): Promise<ScheduledBackupResult['retention']> {
  const removed: RetentionDecision[] = [];
  const failedItems: { id: string; error: string }[] = [];
  let recording: boolean;
  const candidates = new Map<string, RetentionCandidate>();
  let keptCount: number;
  let plan: ReturnType<typeof planRetention>;
  try {
    for (const b of await listBackups(storage)) {
      if (b.status === 'succeeded' && b.startedAt) candidates.set(b.id, { id: b.id, startedAt: new Date(b.startedAt), status: 'succeeded' });
    }
    recording = await hasBackupRuns(pool);
    if (recording) {
      const rows = await pool.query(`SELECT id, status, started_at FROM public.backup_runs WHERE status IN ('failed', 'running')`);
      for (const r of rows.rows) {
        // Storage is the source of truth: a manifest there means the backup exists, whatever the row says.
        if (!candidates.has(r.id)) candidates.set(r.id, { id: r.id, startedAt: r.started_at, status: r.status });
      }
    }
    plan = planRetention([...candidates.values()], policy);
    keptCount = plan.keep.length;
  } catch (err) {
    return { kept: 0, removed, failed: failedItems, error: `retention did not run: ${message(err)}` };
  }

  for (const d of plan.remove) {
    try {
      // Manifest first: without it the backup is no longer listed as restorable, so a crash
      // between the two deletes leaves an 'incomplete' archive, never a broken "good" backup.
      await storage.delete(manifestKey(d.id));
      await storage.delete(archiveKey(d.id));
      if (recording) await pool.query('DELETE FROM public.backup_runs WHERE id = $1', [d.id]);
      removed.push(d);
    } catch (err) {
      failedItems.push({ id: d.id, error: message(err) });
    }
  }

  if (removed.length || failedItems.length) {
    const days = `${policy.keepDays} day${policy.keepDays === 1 ? '' : 's'}`;
    await logActivity(pool, {
      action: 'BACKUP_RETENTION',
      entityType: 'system',
      description:
        `Retention (keep ${days}, at least ${policy.keepLast}): removed ${removed.length} backup${removed.length === 1 ? '' : 's'}` +
        (removed.length ? ` (${removed.map((r) => r.id).join(', ')})` : '') +
        (failedItems.length ? `; could not remove ${failedItems.map((f) => f.id).join(', ')}` : ''),
      ipAddress: 'system-automation',
      userAgent: 'backup-cron-job',
      metadata: { keepDays: policy.keepDays, keepLast: policy.keepLast, kept: keptCount, removed, failed: failedItems },
    }).catch(() => {});
  }
  return { kept: keptCount, removed, failed: failedItems };
}
