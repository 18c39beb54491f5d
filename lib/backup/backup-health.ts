/**
 * Backup health for uptime monitors, the dashboard and the `backup_stale` alert. Pure: the facts
 * come from `backupHealthFacts` (backup-runs.ts), the clock and the limit are inputs.
 */

/** A backup older than this many hours makes health `stale` unless BACKUP_MAX_AGE_HOURS says otherwise. */
export const DEFAULT_MAX_AGE_HOURS = 26;

export type BackupHealthStatus = 'ok' | 'stale' | 'failing' | 'never';

export interface BackupHealthFacts {
  /** When the newest GOOD backup finished: succeeded, verified, and neither verification nor drill failed. */
  lastVerifiedBackupAt: Date | null;
  /** Status of the newest run started by a schedule (trigger 'schedule' or 'cron'), null when none ran. */
  latestScheduledStatus: 'running' | 'succeeded' | 'failed' | 'deleted' | null;
}

export interface BackupHealth {
  status: BackupHealthStatus;
  /** ISO time of the newest good backup, null when there is none. */
  lastVerifiedBackupAt: string | null;
  /** Its age in hours (one decimal), null when there is none. */
  ageHours: number | null;
  maxAgeHours: number;
}

/**
 * Reads BACKUP_MAX_AGE_HOURS (a positive number of hours, default 26). An invalid value falls back
 * to the default and says so through `onInvalid`: a health endpoint must answer, not crash.
 */
export function maxAgeHoursFromEnv(env: Record<string, string | undefined> = process.env, onInvalid?: (msg: string) => void): number {
  const raw = env.BACKUP_MAX_AGE_HOURS?.trim();
  if (!raw) return DEFAULT_MAX_AGE_HOURS;
  const n = Number(raw);
  if (/^\d+(\.\d+)?$/.test(raw) && n > 0 && Number.isFinite(n)) return n;
  onInvalid?.(`BACKUP_MAX_AGE_HOURS must be a positive number of hours, got ${JSON.stringify(raw)}; using ${DEFAULT_MAX_AGE_HOURS}`);
  return DEFAULT_MAX_AGE_HOURS;
}

/**
 * ok: the newest good backup is younger than `maxAgeHours` and the latest scheduled run did not
 * fail. Otherwise, in this order: `failing` (the latest scheduled run failed), `never` (no good
 * backup at all), `stale` (the newest good one is too old). A backup dated in the future (clock
 * skew) counts as age 0.
 */
export function backupHealth(facts: BackupHealthFacts, opts: { now?: Date; maxAgeHours?: number } = {}): BackupHealth {
  const now = opts.now ?? new Date();
  const maxAgeHours = opts.maxAgeHours ?? DEFAULT_MAX_AGE_HOURS;
  const last = facts.lastVerifiedBackupAt;
  const ageHours = last ? Math.max(0, Math.round((now.getTime() - last.getTime()) / 360_000) / 10) : null;
  const base = { lastVerifiedBackupAt: last ? last.toISOString() : null, ageHours, maxAgeHours };
  if (facts.latestScheduledStatus === 'failed') return { status: 'failing', ...base };
  if (!last) return { status: 'never', ...base };
  if (now.getTime() - last.getTime() >= maxAgeHours * 3_600_000) return { status: 'stale', ...base };
  return { status: 'ok', ...base };
}
