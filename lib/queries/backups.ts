import type pg from 'pg';
import type { Queryable } from '../activity/log-activity';
import { historyPageRows, recoverStaleRuns, runTotals } from '../backup/backup-runs';
import { recordedSignature } from '../backup/backup-signature';
import type { BackupSignature } from '../backup/backup-signature';

/** Position in the history (the last row of a page): the next page starts after it. */
export interface HistoryCursor {
  startedAt: string;
  id: string;
}

/**
 * Opaque cursor text for the row after which the next page starts. started_at is a timestamptz
 * (microseconds) while a JS Date has milliseconds: the exact text (`position`, from backupHistory)
 * is used when present, so two runs started within the same millisecond at a page boundary are
 * neither skipped nor repeated.
 */
export function encodeCursor(r: { startedAt: Date; id: string; position?: string }): string {
  return Buffer.from(`${r.position ?? r.startedAt.toISOString()}|${r.id}`, 'utf8').toString('base64url');
}

/**
 * Exactly the UTC times encodeCursor writes (`position` to the microsecond, or toISOString), and a
 * real calendar time: Date.parse also takes '1', '2020-02-30' or '24:00', which PostgreSQL refuses
 * (a forged cursor would be a 500 instead of a 400).
 */
function cursorTime(at: string | undefined): boolean {
  const m = at ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/.exec(at) : null;
  if (!m) return false;
  const t = new Date(`${m[1]}Z`);
  return !Number.isNaN(t.getTime()) && t.toISOString().slice(0, 19) === m[1];
}

/** Parses a cursor from encodeCursor; null when it is not one. */
export function decodeCursor(text: string): HistoryCursor | null {
  const [at, id, extra] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (extra !== undefined || !id || !/^[0-9a-zA-Z-]{10,40}$/.test(id) || !cursorTime(at)) return null;
  return { startedAt: at, id };
}

/** One backup_runs row as the history API and page show it. */
export interface BackupHistoryRow {
  id: string;
  trigger: string;
  /** Who asked (manual): the admin's email and name; null for cron/cli or a deleted admin. */
  triggeredBy: { id: string; email: string; fullName: string } | null;
  description: string;
  status: 'running' | 'succeeded' | 'failed' | 'deleted';
  startedAt: Date;
  /** started_at to the microsecond (ISO 8601, UTC): the history cursor's position. */
  position: string;
  finishedAt: Date | null;
  durationMs: number | null;
  tableCount: number | null;
  rowCount: number | null;
  sizeBytes: number | null;
  sha256: string | null;
  error: string | null;
  verifiedAt: Date | null;
  drillAt: Date | null;
  /** Result of the last restore drill; null when none ran. */
  drillOk: boolean | null;
  /** Warnings recorded at backup time (manifest v2+: dependencies outside the backed-up schemas, objects left out); [] when none. */
  warnings: string[];
  /** Signature state of a stored backup (lib/backup/backup-signature.ts); null while running or after a failure. */
  signature: BackupSignature | null;
}

export interface BackupStatistics {
  totalBackups: number;
  successfulBackups: number;
  failedBackups: number;
  /** finished_at of the newest succeeded backup, null when none succeeded. */
  lastBackupTime: Date | null;
  /** Mean archive size (bytes, rounded) of succeeded backups; 0 when none. */
  averageBackupSize: number;
  /** The newest failed run, if any. */
  lastFailure?: { id: string; at: Date; error: string | null };
}

/**
 * The newest `limit` backup runs, newest first. Marks runs left 'running' by a dead process as
 * failed first (recoverStaleRuns), so the history never shows a backup "running" forever.
 */
export async function backupHistory(db: pg.Pool, opts: { limit: number; before?: HistoryCursor }): Promise<BackupHistoryRow[]> {
  await recoverStaleRuns(db);
  const limit = Math.min(Math.max(Math.trunc(opts.limit) || 30, 1), 101);
  const rows = await historyPageRows(db, limit, opts.before);
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    id: r.id,
    trigger: r.trigger,
    triggeredBy: r.triggered_by && r.email ? { id: r.triggered_by, email: r.email, fullName: r.full_name } : null,
    description: r.description,
    status: r.status,
    startedAt: r.started_at,
    position: r.position,
    finishedAt: r.finished_at,
    durationMs: num(r.duration_ms),
    tableCount: num(r.table_count),
    rowCount: num(r.row_count),
    sizeBytes: num(r.size_bytes),
    sha256: r.sha256,
    error: r.error,
    verifiedAt: r.verified_at,
    drillAt: r.drill_at,
    drillOk: r.drill_ok,
    warnings: Array.isArray(r.warnings) ? (r.warnings as string[]) : [],
    signature: r.status === 'succeeded' && r.has_manifest ? recordedSignature({ signature: r.signature, verifiedSignature: r.verified_signature }) : null,
  }));
}

/** Counts and averages over all recorded backup runs (running ones count in the total only). */
export async function backupStatistics(db: Queryable): Promise<BackupStatistics> {
  const t = await runTotals(db);
  const stats: BackupStatistics = {
    totalBackups: t.total,
    successfulBackups: t.succeeded,
    failedBackups: t.failed,
    lastBackupTime: t.lastSucceededAt,
    averageBackupSize: t.averageSizeBytes,
  };
  if (t.lastFailure) stats.lastFailure = t.lastFailure;
  return stats;
}
