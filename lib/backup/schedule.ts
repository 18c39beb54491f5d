import { Cron } from 'croner';
import { AppError } from '../errors';

/** The schedule when BACKUP_SCHEDULE is unset: every day at 02:00 (UTC unless BACKUP_TZ says otherwise). */
export const DEFAULT_BACKUP_SCHEDULE = '0 2 * * *';

/** A parsed backup schedule. */
export interface BackupSchedule {
  /** The cron expression as configured (5 fields: minute hour day-of-month month day-of-week). */
  expression: string;
  /** IANA time zone the expression is read in ('UTC' unless BACKUP_TZ is set). */
  timeZone: string;
  /**
   * Identity of the schedule in the exactly-once ledger: expression and zone, so changing either
   * starts a new series of slots instead of colliding with the old one.
   */
  key: string;
}

type Env = Record<string, string | undefined>;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function cronOf(s: Pick<BackupSchedule, 'expression' | 'timeZone'>): Cron {
  // paused: the object only computes times; the scheduler (start-scheduler.ts) owns the timers.
  return new Cron(s.expression, { paused: true, timezone: s.timeZone, mode: '5-part' });
}

/**
 * Parses a cron expression (5 fields) in a time zone. Throws AppError('config') with one line
 * naming the variable and the cause; `source` names where the expression came from.
 */
export function parseSchedule(expression: string, timeZone = 'UTC', source = 'BACKUP_SCHEDULE'): BackupSchedule {
  const expr = expression.trim().replace(/\s+/g, ' ');
  const tz = timeZone.trim() || 'UTC';
  if (!validTimeZone(tz)) throw new AppError('config', `BACKUP_TZ ${JSON.stringify(timeZone)} is not an IANA time zone (e.g. UTC, Africa/Addis_Ababa)`);
  const fields = expr.split(' ').filter(Boolean).length;
  if (fields !== 5) {
    throw new AppError('config', `${source} ${JSON.stringify(expression)} must be a cron expression of 5 fields (minute hour day month weekday), e.g. "0 2 * * *", or "off"`);
  }
  let next: Date | null;
  try {
    next = cronOf({ expression: expr, timeZone: tz }).nextRun(new Date());
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).replace(/^CronPattern:\s*/, '').split('\n')[0];
    throw new AppError('config', `${source} ${JSON.stringify(expression)} is not a valid cron expression: ${why}`);
  }
  if (!next) throw new AppError('config', `${source} ${JSON.stringify(expression)} never fires`);
  return { expression: expr, timeZone: tz, key: `${expr} ${tz}` };
}

/**
 * The schedule configured by BACKUP_SCHEDULE (default `0 2 * * *`) and BACKUP_TZ (default UTC),
 * or null when BACKUP_SCHEDULE is `off`. Invalid values throw AppError('config') (one line).
 */
export function scheduleFromEnv(env: Env = process.env): BackupSchedule | null {
  const raw = env.BACKUP_SCHEDULE?.trim() || DEFAULT_BACKUP_SCHEDULE;
  if (/^(off|none|disabled?)$/i.test(raw)) return null;
  return parseSchedule(raw, env.BACKUP_TZ?.trim() || 'UTC');
}

/**
 * The slot a run at `now` belongs to: the latest time the schedule fires at or before `now`
 * (a run at exactly 02:00:00.000 belongs to the 02:00 slot). Null if the schedule never fired.
 */
export function latestSlot(s: BackupSchedule, now: Date = new Date()): Date | null {
  // croner's previousRuns excludes a run at exactly the reference instant; 1 ms later includes it.
  const [prev] = cronOf(s).previousRuns(1, new Date(now.getTime() + 1));
  return prev && prev.getTime() <= now.getTime() ? prev : null;
}

/** How early a call may come and still belong to the coming slot (at most a quarter of the gap between slots). */
export const EARLY_SLOT_GRACE_MS = 2 * 60_000;

/**
 * The slot a scheduled run at `now` is for: the coming slot when it is at most
 * EARLY_SLOT_GRACE_MS away (and at most a quarter of the time between slots), else latestSlot.
 * A trigger that arrives a moment early (an external cron whose clock runs ahead of ours, a timer
 * firing a few ms before the minute) would otherwise be counted for the previous slot, which
 * already ran: "skipped", and that day would have no backup.
 */
export function slotOf(s: BackupSchedule, now: Date = new Date()): Date | null {
  const prev = latestSlot(s, now);
  const next = nextRun(s, now);
  if (!next) return prev;
  const ahead = next.getTime() - now.getTime();
  const gap = next.getTime() - (prev ?? new Date(0)).getTime();
  return ahead <= Math.min(EARLY_SLOT_GRACE_MS, gap / 4) ? next : prev;
}

/** The next time the schedule fires strictly after `now`, or null if it never does. */
export function nextRun(s: BackupSchedule, now: Date = new Date()): Date | null {
  return cronOf(s).nextRun(now);
}

/** Human summary for logs and the dashboard, e.g. `0 2 * * * (UTC)`. */
export function describeSchedule(s: BackupSchedule | null): string {
  return s ? `${s.expression} (${s.timeZone})` : 'off';
}
