import type pg from 'pg';
import { storedSizeBytes } from './manifest';
import type { Manifest } from './manifest';
import type { BackupHealthFacts } from './backup-health';

/**
 * All SQL of the backup bookkeeping (`public.backup_runs`) and the one-backup-at-a-time lock, as
 * named functions. `backup_runs` is an index of storage (storage is the source of truth), recorded
 * only in databases that have the table and accept writes.
 */

/**
 * Session advisory lock held, on its own connection, for a whole backup run: 7263 ('TH') / 3
 * (backups). Advisory locks are per database, so this means "one backup at a time per database".
 * A crashed process's session ends and PostgreSQL releases the lock, which is how stale 'running'
 * rows are recognised.
 */
export const BACKUP_LOCK = [7263, 3] as const;

/**
 * Tables of the backup system itself, whose rows a backup leaves out (definitions kept): restoring
 * yesterday's history, slot ledger or alert state over today's would lie about what happened.
 */
export const BOOKKEEPING_TABLES = ['public.backup_runs', 'public.backup_schedule_slots', 'public.backup_alert_state'] as const;

export const STALE_RUN_ERROR = 'interrupted: the process running this backup stopped before it finished';

type Db = Pick<pg.ClientBase, 'query'>;

/** True when the database has public.backup_runs and is writable (not a read replica). */
export async function hasBackupRuns(db: Db): Promise<boolean> {
  const r = await db.query(`SELECT to_regclass('public.backup_runs') IS NOT NULL AS has, pg_is_in_recovery() AS replica`);
  return r.rows[0].has === true && r.rows[0].replica === false;
}

/** Takes the backup lock for this session if free (never waits). */
export async function tryBackupLock(db: Db): Promise<boolean> {
  const r = await db.query('SELECT pg_try_advisory_lock($1, $2) AS ok', [...BACKUP_LOCK]);
  return r.rows[0].ok === true;
}

export async function releaseBackupLock(db: Db): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1, $2)', [...BACKUP_LOCK]);
}

/** The newest 'running' row (the backup holding the lock), if recorded. */
export async function currentRun(db: Db): Promise<{ id: string; startedAt: Date } | null> {
  const r = await db.query(`SELECT id, started_at FROM public.backup_runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1`);
  return r.rowCount ? { id: r.rows[0].id, startedAt: r.rows[0].started_at } : null;
}

/**
 * Writes a running backup's latest progress on its row (progress-recorder.ts); no-op once the run
 * is over.
 */
export async function recordRunProgress(db: Db, id: string, progress: unknown): Promise<void> {
  await db.query(`UPDATE public.backup_runs SET progress = $2::jsonb, progress_at = now() WHERE id = $1 AND status = 'running'`, [id, JSON.stringify(progress)]);
}

/** Marks every 'running' row failed. Call ONLY while holding the backup lock. Returns their ids. */
export async function failStaleRuns(db: Db): Promise<string[]> {
  const r = await db.query(
    `UPDATE public.backup_runs
        SET status = 'failed', error = $1, finished_at = now(),
            duration_ms = LEAST(EXTRACT(EPOCH FROM (now() - started_at)) * 1000, 2147483647)::int
      WHERE status = 'running' RETURNING id`,
    [STALE_RUN_ERROR],
  );
  return r.rows.map((x) => x.id as string);
}

/**
 * Marks runs left 'running' by a process that died as failed, if no backup currently holds the
 * lock (then a 'running' row is real and stays). For the dashboard/API to call before showing
 * history. Returns the ids it marked. A database without backup_runs: nothing to do.
 */
export async function recoverStaleRuns(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect();
  try {
    if (!(await hasBackupRuns(client))) return [];
    if (!(await tryBackupLock(client))) return [];
    try {
      return await failStaleRuns(client);
    } finally {
      await releaseBackupLock(client);
    }
  } finally {
    client.release();
  }
}

export interface RunStart {
  id: string;
  trigger: string;
  triggeredBy: string | null;
  description: string;
  startedAt: Date;
  location: string;
}

export async function insertRunningRun(db: Db, r: RunStart): Promise<void> {
  await db.query(
    `INSERT INTO public.backup_runs (id, trigger, triggered_by, description, status, started_at, storage_location)
     VALUES ($1, $2, $3, $4, 'running', $5, $6)`,
    [r.id, r.trigger, r.triggeredBy, r.description, r.startedAt, r.location],
  );
}

/**
 * Records a succeeded run. `verification` is the check after writing; without one (`--no-verify`)
 * the run is NOT marked verified (verified_at stays NULL), so it never counts as a good backup
 * (GOOD_RUN_SQL) until `verify` or a drill checks it.
 */
export async function markRunSucceeded(
  db: Db,
  id: string,
  m: Manifest,
  o: { durationMs: number; location: string; verification: unknown },
): Promise<void> {
  await db.query(
    `UPDATE public.backup_runs
        SET status = 'succeeded', finished_at = $2, duration_ms = $3, table_count = $4, row_count = $5,
            size_bytes = $6, storage_location = $7, sha256 = $8, error = NULL, manifest = $9::jsonb,
            verified_at = CASE WHEN $10::jsonb = 'null'::jsonb THEN NULL ELSE now() END, verification = $10::jsonb
      WHERE id = $1`,
    [id, m.finishedAt, o.durationMs, m.totals.tables, m.totals.rows, storedSizeBytes(m), o.location, m.archive.sha256, JSON.stringify(m), JSON.stringify(o.verification ?? null)],
  );
}

export async function markRunFailed(db: Db, id: string, error: string, durationMs: number, verification?: unknown): Promise<void> {
  await db.query(
    `UPDATE public.backup_runs
        SET status = 'failed', finished_at = now(), duration_ms = $3, error = $2,
            verification = COALESCE($4::jsonb, verification), verified_at = CASE WHEN $4::jsonb IS NULL THEN verified_at ELSE now() END
      WHERE id = $1`,
    [id, error, durationMs, verification === undefined ? null : JSON.stringify(verification)],
  );
}

/**
 * Inserts or refreshes the row of a backup found in storage (reindex): storage says it succeeded.
 * Keeps verification/drill results already recorded for the same id.
 */
export async function upsertRunFromManifest(db: Db, m: Manifest, location: string, trigger: string): Promise<void> {
  const duration = Math.max(0, Math.min(2147483647, Date.parse(m.finishedAt) - Date.parse(m.startedAt)));
  await db.query(
    `INSERT INTO public.backup_runs (id, trigger, description, status, started_at, finished_at, duration_ms,
                                     table_count, row_count, size_bytes, storage_location, sha256, manifest)
     VALUES ($1, $2, $3, 'succeeded', $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
     ON CONFLICT (id) DO UPDATE
        SET status = 'succeeded', error = NULL, finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms,
            table_count = EXCLUDED.table_count, row_count = EXCLUDED.row_count, size_bytes = EXCLUDED.size_bytes,
            storage_location = EXCLUDED.storage_location, sha256 = EXCLUDED.sha256, manifest = EXCLUDED.manifest`,
    [m.id, trigger, m.description ?? '', m.startedAt, m.finishedAt, duration, m.totals.tables, m.totals.rows, storedSizeBytes(m), location, m.archive.sha256, JSON.stringify(m)],
  );
}

/**
 * SQL condition of a GOOD backup (alias r): it succeeded, its stored copy verified, and no later
 * verification or drill failed. The one definition health, alerts and retention use.
 */
export const GOOD_RUN_SQL = `r.status = 'succeeded' AND r.verified_at IS NOT NULL
  AND COALESCE((r.verification ->> 'ok')::boolean, true) AND COALESCE((r.drill ->> 'ok')::boolean, true)`;

/** Triggers of runs started by a schedule (in-process scheduler, cron route, run-scheduled). */
export const SCHEDULED_TRIGGERS = ['schedule', 'cron'] as const;

/** The facts backupHealth() needs, in one query. */
export async function backupHealthFacts(db: Db): Promise<BackupHealthFacts> {
  const r = await db.query(
    `SELECT (SELECT max(COALESCE(r.finished_at, r.started_at)) FROM public.backup_runs r WHERE ${GOOD_RUN_SQL}) AS last_good,
            (SELECT CASE WHEN r.status = 'deleted' THEN r.deleted_from ELSE r.status END FROM public.backup_runs r
              WHERE r.trigger = ANY($1::text[]) AND r.status <> 'running'
              ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS latest_scheduled`,
    [[...SCHEDULED_TRIGGERS]],
  );
  return { lastVerifiedBackupAt: r.rows[0].last_good ?? null, latestScheduledStatus: r.rows[0].latest_scheduled ?? null };
}

/** Records the outcome of an on-demand verification (dashboard / API) on the run's row. */
export async function recordVerification(db: Db, id: string, verification: { ok: boolean }): Promise<void> {
  await db.query(`UPDATE public.backup_runs SET verified_at = now(), verification = $2::jsonb WHERE id = $1`, [id, JSON.stringify(verification)]);
}

/**
 * Ids of the newest `keep` good backups (GOOD_RUN_SQL; at least the newest one): the ones retention keeps
 * whatever their age, which an operator may therefore not delete by hand either.
 */
export async function protectedRunIds(db: Db, keep: number): Promise<string[]> {
  const r = await db.query(`SELECT r.id FROM public.backup_runs r WHERE ${GOOD_RUN_SQL} ORDER BY r.started_at DESC, r.id DESC LIMIT $1`, [Math.max(1, keep)]);
  return r.rows.map((x) => x.id as string);
}

/** Rows retention judges besides the backups in storage: failed/running runs, and good-or-not flags of succeeded ones. */
export async function retentionRows(db: Db): Promise<{ id: string; status: 'succeeded' | 'failed' | 'running'; startedAt: Date; good: boolean }[]> {
  const r = await db.query(
    `SELECT r.id, r.status, r.started_at,
            COALESCE((r.verification ->> 'ok')::boolean, true) AND COALESCE((r.drill ->> 'ok')::boolean, true) AS good
       FROM public.backup_runs r WHERE r.status IN ('succeeded', 'failed', 'running')`,
  );
  return r.rows.map((x) => ({ id: x.id, status: x.status, startedAt: x.started_at, good: x.good }));
}

/**
 * Marks a run deleted (its files are gone) and says when and why; the row stays as history.
 * `deleted_from` keeps whether it had succeeded or failed.
 */
export async function markRunDeleted(db: Db, id: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE public.backup_runs
        SET deleted_from = CASE WHEN status = 'running' THEN 'failed' ELSE status END, status = 'deleted',
            deleted_at = now(), deleted_reason = $2, finished_at = COALESCE(finished_at, now())
      WHERE id = $1 AND status <> 'deleted'`,
    [id, reason],
  );
}

/** Records a failure that was written to storage while the database was down (reindex, next job). No-op if the row exists. */
export async function insertFailedRun(db: Db, f: { id: string; trigger: string; startedAt: string; finishedAt: string; error: string }): Promise<boolean> {
  const trigger = ['cron', 'schedule', 'manual', 'cli'].includes(f.trigger) ? f.trigger : 'schedule';
  const duration = Math.max(0, Math.min(2147483647, Date.parse(f.finishedAt) - Date.parse(f.startedAt))) || 0;
  const r = await db.query(
    `INSERT INTO public.backup_runs (id, trigger, status, started_at, finished_at, duration_ms, error)
     VALUES ($1, $2, 'failed', $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [f.id, trigger, f.startedAt, f.finishedAt, duration, f.error],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Ids recorded 'succeeded' that are not in `present` (reindex: their manifests are gone). */
export async function succeededRunsNotIn(db: Db, present: string[]): Promise<string[]> {
  const r = await db.query(`SELECT id FROM public.backup_runs WHERE status = 'succeeded' AND NOT (id = ANY($1::text[]))`, [present]);
  return r.rows.map((x) => x.id as string);
}

/** Marks a run failed because its files are no longer in storage (reindex). */
export async function markRunMissing(db: Db, id: string, error: string): Promise<void> {
  await db.query(`UPDATE public.backup_runs SET status = 'failed', error = $2 WHERE id = $1`, [id, error]);
}

/** Writes a restore drill's result on its backup's row; false when there is no such row. */
export async function recordDrillResult(db: Db, id: string, finishedAt: string, drill: unknown): Promise<boolean> {
  const u = await db.query(`UPDATE public.backup_runs SET drill_at = $2, drill = $3::jsonb WHERE id = $1`, [id, finishedAt, JSON.stringify(drill)]);
  return (u.rowCount ?? 0) > 0;
}

/** When the newest drill of any backup ran (for "is a scheduled drill due"). */
export async function lastDrillAt(db: Db): Promise<Date | null> {
  const r = await db.query(`SELECT max(drill_at) AS at FROM public.backup_runs`);
  return r.rows[0].at ?? null;
}

/**
 * Rows, size and per-table rows of the last `n` good backups before `id` (the anomaly check's median input).
 */
export async function recentGoodTotals(db: Db, id: string, n = 7): Promise<{ rows: number; sizeBytes: number; tables: Record<string, number> }[]> {
  const r = await db.query(
    `SELECT r.row_count, r.size_bytes,
            (SELECT jsonb_object_agg((t ->> 'schema') || '.' || (t ->> 'name'), (t ->> 'rows')::bigint)
               FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r.manifest -> 'tables') = 'array' THEN r.manifest -> 'tables' ELSE '[]'::jsonb END) t) AS tables
       FROM public.backup_runs r
      WHERE ${GOOD_RUN_SQL} AND r.id <> $1 AND r.started_at < (SELECT started_at FROM public.backup_runs WHERE id = $1)
      ORDER BY r.started_at DESC LIMIT $2`,
    [id, n],
  );
  return r.rows.map((x) => ({ rows: Number(x.row_count ?? 0), sizeBytes: Number(x.size_bytes ?? 0), tables: (x.tables ?? {}) as Record<string, number> }));
}

/**
 * Runs of this database that are over (anything not 'running'), and those that failed. Call while
 * holding the backup lock after failStaleRuns: then no recorded run is alive.
 */
export async function deadRunIds(db: Db, cleanupPendingMark?: string): Promise<{ all: Set<string>; failed: Set<string>; deleted: Set<string>; interrupted: Map<string, string>; cleanupPending: Set<string> }> {
  const r = await db.query(`SELECT id, status, error, trigger FROM public.backup_runs WHERE status <> 'running'`);
  const failed = r.rows.filter((x) => x.status === 'failed');
  return {
    all: new Set(r.rows.map((x) => x.id)),
    failed: new Set(failed.map((x) => x.id)),
    // Deleted (retention or an admin): any archive of theirs still in storage is a leftover.
    deleted: new Set(r.rows.filter((x) => x.status === 'deleted').map((x) => x.id)),
    // Runs failed only because their process stopped (failStaleRuns), id -> trigger: one may have
    // stored its manifest (the backup exists) and died before recording it.
    interrupted: new Map(failed.filter((x) => x.error === STALE_RUN_ERROR).map((x) => [x.id as string, x.trigger as string])),
    // Failed runs that said they could not remove what they stored (run-backup.ts, storage down).
    cleanupPending: new Set(cleanupPendingMark ? failed.filter((x) => typeof x.error === 'string' && x.error.endsWith(cleanupPendingMark)).map((x) => x.id) : []),
  };
}

/**
 * Runs `fn` while holding the backup lock on `db`, after failing the runs that were left 'running'
 * (provably dead now). Returns null without running it when a backup holds the lock.
 */
export async function withBackupLockHeld<T>(db: Db, fn: () => Promise<T>): Promise<T | null> {
  if (!(await hasBackupRuns(db)) || !(await tryBackupLock(db))) return null;
  try {
    await failStaleRuns(db);
    return await fn();
  } finally {
    await releaseBackupLock(db).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Reads for the dashboard, the history API and the backup detail page (lib/queries/)
// ---------------------------------------------------------------------------------------------

/**
 * One page of the history, newest first, deleted runs left out, with the admin who asked; rows
 * started before `before` (started_at to the microsecond, id) when given. Raw rows (column names):
 * lib/queries/backups.ts shapes them.
 */
export async function historyPageRows(db: Db, limit: number, before?: { startedAt: string; id: string }): Promise<pg.QueryResultRow[]> {
  const r = await db.query(
    `SELECT r.id, r.trigger, r.triggered_by, a.email, a.full_name, r.description, r.status, r.started_at, r.finished_at,
            to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position,
            r.duration_ms, r.table_count, r.row_count, r.size_bytes, r.sha256, r.error, r.verified_at, r.drill_at,
            (r.drill ->> 'ok')::boolean AS drill_ok, r.manifest -> 'warnings' AS warnings,
            r.manifest IS NOT NULL AS has_manifest, r.manifest -> 'signature' AS signature, r.verification ->> 'signature' AS verified_signature
       FROM public.backup_runs r
       LEFT JOIN public.admin_users a ON a.id = r.triggered_by
      WHERE r.status <> 'deleted' AND ($2::timestamptz IS NULL OR (r.started_at, r.id) < ($2::timestamptz, $3::text))
      ORDER BY r.started_at DESC, r.id DESC
      LIMIT $1`,
    [limit, before?.startedAt ?? null, before?.id ?? ''],
  );
  return r.rows;
}

/** Counts over the runs not deleted (running ones in the total only), and the newest failure. */
export async function runTotals(db: Db): Promise<{
  total: number; succeeded: number; failed: number; lastSucceededAt: Date | null; averageSizeBytes: number;
  lastFailure: { id: string; at: Date; error: string | null } | null;
}> {
  const { rows } = await db.query(
    `SELECT count(*)::bigint AS total,
            count(*) FILTER (WHERE status = 'succeeded')::bigint AS ok,
            count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
            max(finished_at) FILTER (WHERE status = 'succeeded') AS last_ok,
            COALESCE(round(avg(size_bytes) FILTER (WHERE status = 'succeeded')), 0)::bigint AS avg_size
       FROM public.backup_runs WHERE status <> 'deleted'`,
  );
  const f = await db.query(
    `SELECT id, COALESCE(finished_at, started_at) AS at, error FROM public.backup_runs
      WHERE status = 'failed' ORDER BY started_at DESC, id DESC LIMIT 1`,
  );
  const s = rows[0];
  return {
    total: Number(s.total),
    succeeded: Number(s.ok),
    failed: Number(s.failed),
    lastSucceededAt: s.last_ok,
    averageSizeBytes: Number(s.avg_size),
    lastFailure: f.rowCount ? { id: f.rows[0].id, at: f.rows[0].at, error: f.rows[0].error } : null,
  };
}

/** A finished run as the dashboard's size/duration chart plots it. */
export interface FinishedRun {
  id: string;
  startedAt: Date;
  sizeBytes: number | null;
  durationMs: number | null;
  failed: boolean;
}

/** The newest `n` finished (succeeded or failed) runs, oldest first: the dashboard's size/duration chart. */
export async function recentFinishedRuns(db: Db, n: number): Promise<FinishedRun[]> {
  const r = await db.query(
    `SELECT id, started_at, size_bytes, duration_ms, status FROM (
       SELECT * FROM public.backup_runs WHERE status IN ('succeeded', 'failed') ORDER BY started_at DESC, id DESC LIMIT $1) x
     ORDER BY started_at, id`,
    [n],
  );
  return r.rows.map((x) => ({ id: x.id, startedAt: x.started_at, sizeBytes: x.size_bytes === null ? null : Number(x.size_bytes), durationMs: x.duration_ms, failed: x.status === 'failed' }));
}

/** The newest `n` succeeded runs, newest first (the backups an export can read from). */
export async function recentSucceededRuns(db: Db, n: number): Promise<{ id: string; startedAt: Date; description: string }[]> {
  const r = await db.query(`SELECT id, started_at, description FROM public.backup_runs WHERE status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT $1`, [n]);
  return r.rows.map((x) => ({ id: x.id, startedAt: x.started_at, description: x.description }));
}

/** The whole row of run `id` (column names as in the table), or null. */
export async function runRow(db: Db, id: string): Promise<pg.QueryResultRow | null> {
  const r = await db.query(`SELECT * FROM public.backup_runs WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}
