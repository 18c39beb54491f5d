import { AppError } from '../errors';

export type RetentionStatus = 'succeeded' | 'failed' | 'running';

export interface RetentionCandidate {
  id: string;
  startedAt: Date;
  status: RetentionStatus;
  /**
   * false when the backup's verification or restore drill failed: it then never counts as good
   * (not the newest, not among the newest N, not a GFS keeper) and ages out like a failed run.
   */
  good?: boolean;
}

export interface RetentionPolicy {
  /** Succeeded backups younger than this many days are kept; failed ones older are removed. */
  keepDays: number;
  /** The newest `keepLast` succeeded backups are kept whatever their age. */
  keepLast: number;
  /** The reference time (injected so the plan is a pure function of its inputs). */
  now: Date;
  /** Grandfather-father-son (optional, 0 = off): the newest good backup of each of the last N days / ISO weeks / months (UTC) is kept. */
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface RetentionDecision {
  id: string;
  reason: string;
}

export interface RetentionPlan {
  /** Newest first. */
  keep: RetentionDecision[];
  /** Newest first. */
  remove: RetentionDecision[];
}

const DAY_MS = 86_400_000;

/**
 * Decides which backups a retention policy keeps and which it removes, with a human-readable
 * reason for each. Pure: no I/O, the clock is `policy.now`. Every input id appears exactly once,
 * in `keep` or `remove`. Rules, in order:
 * 1. `running` is always kept (its files may still be being written).
 * 2. A backup dated in the future (clock skew) is kept: its age is unknown.
 * 3. The newest succeeded backup is always kept, even with keepLast 0 and keepDays 0: retention
 *    must never leave the database without a restorable backup.
 * 4. Succeeded: kept if among the newest `keepLast` succeeded, or not older than `keepDays`;
 *    otherwise removed.
 * 5. Grandfather-father-son: the newest good backup of each of the last `keepDaily` days,
 *    `keepWeekly` ISO weeks and `keepMonthly` months that have one (UTC calendar) is kept.
 * 6. Failed, and succeeded but not good (verification or drill failed): kept for `keepDays` (to
 *    diagnose), removed once older. They never count as good backups in rules 3-5.
 * "Older than N days" is strict: a backup exactly N days old is still kept.
 * Throws AppError('usage') for a negative or non-integer keepDays/keepLast, an invalid date, or a
 * duplicate id.
 */
export function planRetention(backups: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionPlan {
  const { keepDays, keepLast, now } = policy;
  const gfs = { keepDaily: policy.keepDaily ?? 0, keepWeekly: policy.keepWeekly ?? 0, keepMonthly: policy.keepMonthly ?? 0 };
  for (const [name, v] of Object.entries({ keepDays, keepLast, ...gfs })) {
    if (!Number.isInteger(v) || v < 0) throw new AppError('usage', `${name} must be a whole number >= 0, got ${v}`);
  }
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new AppError('usage', 'retention needs a valid current time');
  const seen = new Set<string>();
  for (const b of backups) {
    if (seen.has(b.id)) throw new AppError('usage', `backup ${b.id} listed twice`);
    seen.add(b.id);
    if (!(b.startedAt instanceof Date) || Number.isNaN(b.startedAt.getTime())) throw new AppError('usage', `backup ${b.id} has an invalid start time`);
  }

  // Newest first; ids break ties so the plan is deterministic (ids sort by time too).
  const ordered = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const cutoff = now.getTime() - keepDays * DAY_MS;
  const days = `${keepDays} day${keepDays === 1 ? '' : 's'}`;
  const keep: RetentionDecision[] = [];
  const remove: RetentionDecision[] = [];
  let succeededRank = 0;
  const gfsKeep = gfsKeepers(ordered.filter((b) => b.status === 'succeeded' && b.good !== false && b.startedAt.getTime() <= now.getTime()), gfs);

  for (const b of ordered) {
    const t = b.startedAt.getTime();
    if (b.status === 'running') {
      keep.push({ id: b.id, reason: 'running' });
      continue;
    }
    if (t > now.getTime()) {
      keep.push({ id: b.id, reason: 'dated in the future (clock skew); age unknown' });
      if (b.status === 'succeeded' && b.good !== false) succeededRank++;
      continue;
    }
    const old = t < cutoff;
    const what = b.status === 'failed' ? 'failed' : 'verification or drill failed';
    if (b.status === 'succeeded' && b.good !== false) {
      succeededRank++;
      if (succeededRank === 1) keep.push({ id: b.id, reason: 'newest succeeded backup' });
      else if (succeededRank <= keepLast) keep.push({ id: b.id, reason: `among the newest ${keepLast} succeeded` });
      else if (!old) keep.push({ id: b.id, reason: `within ${days}` });
      else if (gfsKeep.has(b.id)) keep.push({ id: b.id, reason: gfsKeep.get(b.id)! });
      else remove.push({ id: b.id, reason: `older than ${days} and not among the newest ${keepLast} succeeded` });
    } else if (old) {
      remove.push({ id: b.id, reason: `${what}, older than ${days}` });
    } else {
      keep.push({ id: b.id, reason: `${what}, kept ${days} for diagnosis` });
    }
  }
  return { keep, remove };
}

/** ISO-8601 week of a UTC date, as 'YYYY-Www' (weeks start on Monday; week 1 holds January 4th). */
function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / DAY_MS + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/**
 * The grandfather-father-son keepers among good backups (newest first): for each period kind, the
 * newest backup of each of the newest N periods that have one. Returns id -> reason (the first
 * rule that keeps it: daily, then weekly, then monthly).
 */
function gfsKeepers(good: readonly RetentionCandidate[], n: { keepDaily: number; keepWeekly: number; keepMonthly: number }): Map<string, string> {
  const out = new Map<string, string>();
  const rules: [number, (d: Date) => string, string][] = [
    [n.keepDaily, (d) => d.toISOString().slice(0, 10), `newest of its day (keep ${n.keepDaily} daily)`],
    [n.keepWeekly, isoWeek, `newest of its week (keep ${n.keepWeekly} weekly)`],
    [n.keepMonthly, (d) => d.toISOString().slice(0, 7), `newest of its month (keep ${n.keepMonthly} monthly)`],
  ];
  for (const [count, period, reason] of rules) {
    const seen = new Set<string>();
    for (const b of good) {
      if (seen.size >= count) break;
      const p = period(b.startedAt);
      if (seen.has(p)) continue;
      seen.add(p);
      if (!out.has(b.id)) out.set(b.id, reason);
    }
  }
  return out;
}
