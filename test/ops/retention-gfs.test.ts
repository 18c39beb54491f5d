import { describe, expect, it } from 'vitest';
import { planRetention } from '../../lib/backup/retention';
import type { RetentionCandidate } from '../../lib/backup/retention';

const NOW = new Date('2026-11-25T12:00:00Z');
const DAY = 86_400_000;
const at = (daysAgo: number) => new Date(NOW.getTime() - daysAgo * DAY);
const ok = (daysAgo: number, id = `s@${daysAgo}`): RetentionCandidate => ({ id, startedAt: at(daysAgo), status: 'succeeded' });
const failed = (daysAgo: number): RetentionCandidate => ({ id: `f@${daysAgo}`, startedAt: at(daysAgo), status: 'failed' });
const unverified = (daysAgo: number): RetentionCandidate => ({ id: `u@${daysAgo}`, startedAt: at(daysAgo), status: 'succeeded', good: false });
const ids = (ds: { id: string }[]) => ds.map((d) => d.id).sort();

describe('retention: the good backups survive whatever happens', () => {
  it('40 days of failures never eat the last good ones', () => {
    const backups = [...Array.from({ length: 40 }, (_, i) => failed(i + 0.5)), ok(41), ok(42), ok(43), ok(60)];
    const plan = planRetention(backups, { keepDays: 30, keepLast: 3, now: NOW });
    expect(ids(plan.keep)).toEqual(ids([...backups.slice(0, 30), ok(41), ok(42), ok(43)]));
    expect(ids(plan.remove)).toEqual(ids([...backups.slice(30, 40), ok(60)]));
    expect(plan.keep.find((k) => k.id === 's@41')!.reason).toBe('newest succeeded backup');
  });

  it('a backup whose verification or drill failed never counts as good: not the newest, not among the newest N', () => {
    const plan = planRetention([unverified(1), unverified(40), ok(35), ok(36), ok(37)], { keepDays: 30, keepLast: 2, now: NOW });
    expect(ids(plan.keep)).toEqual(['s@35', 's@36', 'u@1']);
    expect(plan.keep.find((k) => k.id === 's@35')!.reason).toBe('newest succeeded backup');
    expect(plan.keep.find((k) => k.id === 'u@1')!.reason).toBe('verification or drill failed, kept 30 days for diagnosis');
    expect(plan.remove.find((k) => k.id === 'u@40')!.reason).toBe('verification or drill failed, older than 30 days');
    expect(ids(plan.remove)).toEqual(['s@37', 'u@40']);
  });

  it('grandfather-father-son: newest of each of the last N days / ISO weeks / months', () => {
    // Two backups a day for 120 days (12:00 and 02:00 UTC).
    const backups: RetentionCandidate[] = [];
    for (let d = 0; d < 120; d++) {
      backups.push({ id: `d${String(d).padStart(3, '0')}-noon`, startedAt: at(d), status: 'succeeded' });
      backups.push({ id: `d${String(d).padStart(3, '0')}-early`, startedAt: new Date(at(d).getTime() - 10 * 3_600_000), status: 'succeeded' });
    }
    const plan = planRetention(backups, { keepDays: 0, keepLast: 1, now: NOW, keepDaily: 7, keepWeekly: 4, keepMonthly: 3 });
    const kept = new Map(plan.keep.map((k) => [k.id, k.reason]));
    // Daily: the noon backup of each of the last 7 days; never the earlier one of the same day.
    for (let d = 0; d < 7; d++) expect(kept.has(`d00${d}-noon`)).toBe(true);
    for (let d = 1; d < 7; d++) expect(kept.has(`d00${d}-early`)).toBe(false);
    expect(kept.get('d001-noon')).toBe('newest of its day (keep 7 daily)');
    // 2026-11-25 is a Wednesday: weeks start Mon 11-23, 11-16, 11-09, 11-02 -> the newest of each is a Sunday's noon backup.
    expect(kept.get('d010-noon')).toBe('newest of its week (keep 4 weekly)'); // Sun 2026-11-15
    expect(kept.get('d017-noon')).toBe('newest of its week (keep 4 weekly)'); // Sun 2026-11-08
    expect(kept.has('d024-noon')).toBe(false); // Sun 2026-11-01: a fifth week
    // Months: November (today's), October 31, September 30.
    expect(kept.get('d025-noon')).toBe('newest of its month (keep 3 monthly)'); // 2026-10-31
    expect(kept.get('d056-noon')).toBe('newest of its month (keep 3 monthly)'); // 2026-09-30
    expect(kept.has('d086-noon')).toBe(false); // 2026-08-31: fourth month
    expect(plan.keep).toHaveLength(7 + 2 + 2);
    expect(plan.keep.length + plan.remove.length).toBe(240);
  });

  it('GFS ignores failed and unverified backups when picking the keeper of a period', () => {
    const plan = planRetention([unverified(40), ok(40.2, 'good-same-day'), failed(40.1)], { keepDays: 30, keepLast: 0, now: NOW, keepDaily: 0, keepMonthly: 1 });
    expect(ids(plan.keep)).toEqual(['good-same-day']);
  });

  it('rejects a negative or fractional GFS count', () => {
    expect(() => planRetention([], { keepDays: 1, keepLast: 1, now: NOW, keepWeekly: -1 })).toThrow(/keepWeekly must be a whole number >= 0/);
    expect(() => planRetention([], { keepDays: 1, keepLast: 1, now: NOW, keepMonthly: 1.5 })).toThrow(/keepMonthly/);
  });
});
