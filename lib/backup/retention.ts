import { AppError } from '../errors';

export type RetentionStatus = 'succeeded' | 'failed' | 'running';

export interface RetentionCandidate {
  id: string;
  startedAt: Date;
  status: RetentionStatus;
}

export interface RetentionPolicy {
  /** Succeeded backups younger than this many days are kept; failed ones older are removed. */
  keepDays: number;
  /** The newest `keepLast` succeeded backups are kept whatever their age. */
  keepLast: number;
  /** The reference time (injected so the plan is a pure function of its inputs). */
  now: Date;
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
 * 5. Failed: kept for `keepDays` (to diagnose), removed once older.
 * "Older than N days" is strict: a backup exactly N days old is still kept.
 * Throws AppError('usage') for a negative or non-integer keepDays/keepLast, an invalid date, or a
 * duplicate id.
 */
export function planRetention(backups: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionPlan {
  const { keepDays, keepLast, now } = policy;
  if (!Number.isInteger(keepDays) || keepDays < 0) throw new AppError('usage', `keepDays must be a whole number >= 0, got ${keepDays}`);
  if (!Number.isInteger(keepLast) || keepLast < 0) throw new AppError('usage', `keepLast must be a whole number >= 0, got ${keepLast}`);
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

  for (const b of ordered) {
    const t = b.startedAt.getTime();
    if (b.status === 'running') {
      keep.push({ id: b.id, reason: 'running' });
      continue;
    }
    if (t > now.getTime()) {
      keep.push({ id: b.id, reason: 'dated in the future (clock skew); age unknown' });
      if (b.status === 'succeeded') succeededRank++;
      continue;
    }
    const old = t < cutoff;
    if (b.status === 'succeeded') {
      succeededRank++;
      if (succeededRank === 1) keep.push({ id: b.id, reason: 'newest succeeded backup' });
      else if (succeededRank <= keepLast) keep.push({ id: b.id, reason: `among the newest ${keepLast} succeeded` });
      else if (!old) keep.push({ id: b.id, reason: `within ${days}` });
      else remove.push({ id: b.id, reason: `older than ${days} and not among the newest ${keepLast} succeeded` });
    } else if (old) {
      remove.push({ id: b.id, reason: `failed, older than ${days}` });
    } else {
      keep.push({ id: b.id, reason: `failed, kept ${days} for diagnosis` });
    }
  }
  return { keep, remove };
}
