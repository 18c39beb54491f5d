import type pg from 'pg';

/**
 * The exactly-once ledger of scheduled slots (public.backup_schedule_slots, PRIMARY KEY (schedule,
 * slot)). Whoever claims a slot runs it; everyone else answers "skipped" (already done) or "busy"
 * (running now). The claimant holds a session advisory lock for the slot while it runs: that is
 * how a 'running' row of a crashed process is told apart from a live one (its lock is free).
 */

/** Advisory-lock namespace of slot claims (7263 = 'TH' is the migration/backup namespace). */
const SLOT_LOCK_NS = 7264;

export type SlotSource = 'schedule' | 'cron' | 'cli';

export type SlotClaim =
  | { claimed: true; retry: boolean }
  | { claimed: false; status: 'succeeded' | 'running'; backupId: string | null; reason: string };

/**
 * The slot lock is per INSTANT, not per schedule: the cron route (vercel.json, UTC) and the
 * scheduler (BACKUP_SCHEDULE in BACKUP_TZ) may spell one time differently (`0 5 * * *` in
 * Africa/Addis_Ababa is `0 2 * * *` UTC; `Etc/UTC`, `00 02 * * *`): one instant, one backup.
 */
const lockArgs = (_key: string, slot: Date) => [SLOT_LOCK_NS, `slot@${slot.toISOString()}`];

/** A succeeded run of ANY schedule at this instant (its backup serves every schedule firing then). */
async function succeededAtInstant(db: Pick<pg.ClientBase, 'query'>, slot: Date): Promise<{ backupId: string | null } | null> {
  const r = await db.query(
    `SELECT backup_id FROM public.backup_schedule_slots WHERE slot = $1 AND status = 'succeeded' ORDER BY finished_at NULLS LAST LIMIT 1`,
    [slot],
  );
  return r.rowCount ? { backupId: r.rows[0].backup_id } : null;
}

/** True when the database has the ledger table (migration 005). */
export async function hasLedger(db: Pick<pg.ClientBase, 'query'>): Promise<boolean> {
  const r = await db.query(`SELECT to_regclass('public.backup_schedule_slots') IS NOT NULL AS has`);
  return r.rows[0].has === true;
}

/**
 * Claims `slot` of schedule `key` for this session. A slot already succeeded is never run again; a
 * slot whose run failed, or was abandoned by a dead process, may be claimed again (a retry, e.g. a
 * second cron delivery after a failure). On success the session holds the slot lock until
 * finishSlot/releaseSlot: keep `db` open for the whole job.
 */
export async function claimSlot(db: pg.ClientBase, key: string, slot: Date, source: SlotSource): Promise<SlotClaim> {
  const locked = (await db.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', lockArgs(key, slot))).rows[0].ok === true;
  const current = async () =>
    (await db.query('SELECT status, backup_id FROM public.backup_schedule_slots WHERE schedule = $1 AND slot = $2', [key, slot])).rows[0] as
      | { status: 'running' | 'succeeded' | 'failed'; backup_id: string | null }
      | undefined;
  if (!locked) {
    const row = await current();
    if (row?.status === 'succeeded') return { claimed: false, status: 'succeeded', backupId: row.backup_id, reason: `the ${slot.toISOString()} slot already ran` };
    const done = await succeededAtInstant(db, slot);
    if (done) return { claimed: false, status: 'succeeded', backupId: done.backupId, reason: `the ${slot.toISOString()} slot already ran` };
    return { claimed: false, status: 'running', backupId: row?.backup_id ?? null, reason: `the ${slot.toISOString()} slot is being run by another process` };
  }
  // Another schedule's run at this instant already made the backup: record this schedule's slot
  // as served by it (so its catch-up sees the slot done) and do not back up again.
  const row0 = await current();
  const other = row0?.status === 'succeeded' ? null : await succeededAtInstant(db, slot);
  if (other) {
    await db.query(
      `INSERT INTO public.backup_schedule_slots (schedule, slot, source, status, backup_id, finished_at) VALUES ($1, $2, $3, 'succeeded', $4, now())
       ON CONFLICT (schedule, slot) DO UPDATE SET status = 'succeeded', backup_id = EXCLUDED.backup_id, finished_at = now(), error = NULL`,
      [key, slot, source, other.backupId],
    );
    await releaseSlot(db, key, slot);
    return { claimed: false, status: 'succeeded', backupId: other.backupId, reason: `the ${slot.toISOString()} slot already ran` };
  }
  const inserted = await db.query(
    `INSERT INTO public.backup_schedule_slots (schedule, slot, source) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`,
    [key, slot, source],
  );
  if (inserted.rowCount) return { claimed: true, retry: false };
  const row = await current();
  if (row?.status === 'succeeded') {
    await releaseSlot(db, key, slot);
    return { claimed: false, status: 'succeeded', backupId: row.backup_id, reason: `the ${slot.toISOString()} slot already ran` };
  }
  // failed, or 'running' with its lock free (the process that claimed it died): run it again.
  await db.query(
    `UPDATE public.backup_schedule_slots SET status = 'running', source = $3, claimed_at = now(), finished_at = NULL, error = NULL, backup_id = NULL
      WHERE schedule = $1 AND slot = $2`,
    [key, slot, source],
  );
  return { claimed: true, retry: true };
}

/** Records the outcome of a claimed slot and releases its lock. */
export async function finishSlot(db: pg.ClientBase, key: string, slot: Date, r: { ok: boolean; backupId: string | null; error?: string }): Promise<void> {
  try {
    await db.query(
      `UPDATE public.backup_schedule_slots SET status = $3, backup_id = $4, error = $5, finished_at = now() WHERE schedule = $1 AND slot = $2`,
      [key, slot, r.ok ? 'succeeded' : 'failed', r.backupId, r.ok ? null : (r.error ?? 'failed')],
    );
  } finally {
    await releaseSlot(db, key, slot);
  }
}

export async function releaseSlot(db: pg.ClientBase, key: string, slot: Date): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1, hashtext($2))', lockArgs(key, slot)).catch(() => {});
}

/** Waits (polling) until a slot run by another process finishes; its row then, or null on timeout. */
export async function waitForSlot(db: pg.ClientBase, key: string, slot: Date, timeoutMs: number): Promise<{ status: string; backupId: string | null } | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const free = (await db.query('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', lockArgs(key, slot))).rows[0].ok === true;
    if (free) {
      await releaseSlot(db, key, slot);
      const r = await db.query('SELECT status, backup_id FROM public.backup_schedule_slots WHERE schedule = $1 AND slot = $2', [key, slot]);
      if (r.rowCount && r.rows[0].status === 'succeeded') return { status: 'succeeded', backupId: r.rows[0].backup_id };
      // The run we waited for may have been another schedule's at this instant.
      const other = await succeededAtInstant(db, slot);
      if (other) return { status: 'succeeded', backupId: other.backupId };
      return r.rowCount ? { status: r.rows[0].status, backupId: r.rows[0].backup_id } : null;
    }
    if (Date.now() >= deadline) return null;
    await new Promise((res) => setTimeout(res, 500));
  }
}

/**
 * Whether `slot` was missed: no ledger row for it, but an earlier slot of the same schedule ran (the
 * scheduler was running before, then the server was down). A fresh install never "catches up".
 */
export async function slotMissed(db: Pick<pg.ClientBase, 'query'>, key: string, slot: Date): Promise<boolean> {
  const r = await db.query(
    `SELECT EXISTS (SELECT 1 FROM public.backup_schedule_slots WHERE schedule = $1 AND slot = $2) AS done,
            EXISTS (SELECT 1 FROM public.backup_schedule_slots WHERE schedule = $1 AND slot < $2) AS earlier`,
    [key, slot],
  );
  return !r.rows[0].done && r.rows[0].earlier;
}
