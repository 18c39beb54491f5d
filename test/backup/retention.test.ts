import { describe, expect, it } from 'vitest';
import { AppError } from '../../lib/errors';
import { planRetention } from '../../lib/backup/retention';
import type { RetentionCandidate, RetentionStatus } from '../../lib/backup/retention';

const NOW = new Date('2026-11-25T12:00:00Z');
const DAY = 86_400_000;

/** `b('s', 3)`: a succeeded backup started 3 days before NOW, id 's@3'. */
function b(status: 's' | 'f' | 'r', daysAgo: number): RetentionCandidate {
  const full: Record<string, RetentionStatus> = { s: 'succeeded', f: 'failed', r: 'running' };
  return { id: `${status}@${daysAgo}`, status: full[status], startedAt: new Date(NOW.getTime() - daysAgo * DAY) };
}

const cases: {
  name: string;
  backups: RetentionCandidate[];
  keepDays: number;
  keepLast: number;
  keep: string[];
  remove: string[];
}[] = [
  { name: 'nothing to plan', backups: [], keepDays: 7, keepLast: 3, keep: [], remove: [] },
  {
    name: 'age and count: keeps the newest N and everything within the window',
    backups: [b('s', 0.5), b('s', 1), b('s', 2), b('s', 8), b('s', 9), b('s', 30)],
    keepDays: 7,
    keepLast: 2,
    keep: ['s@0.5', 's@1', 's@2'],
    remove: ['s@8', 's@9', 's@30'],
  },
  {
    name: 'keepLast protects old succeeded backups when there are no recent ones',
    backups: [b('s', 40), b('s', 50), b('s', 60), b('s', 70)],
    keepDays: 7,
    keepLast: 3,
    keep: ['s@40', 's@50', 's@60'],
    remove: ['s@70'],
  },
  {
    name: 'the newest succeeded backup survives keepLast 0 and keepDays 0',
    backups: [b('s', 100), b('s', 200)],
    keepDays: 0,
    keepLast: 0,
    keep: ['s@100'],
    remove: ['s@200'],
  },
  {
    name: 'the newest succeeded backup survives even when newer failed ones exist',
    backups: [b('f', 1), b('f', 2), b('s', 90), b('s', 95)],
    keepDays: 7,
    keepLast: 1,
    keep: ['f@1', 'f@2', 's@90'],
    remove: ['s@95'],
  },
  {
    name: 'failed backups: kept within keepDays, removed after; they do not count towards keepLast',
    backups: [b('f', 0.1), b('s', 1), b('f', 3), b('s', 4), b('f', 10), b('f', 365)],
    keepDays: 7,
    keepLast: 1,
    keep: ['f@0.1', 's@1', 'f@3', 's@4'],
    remove: ['f@10', 'f@365'],
  },
  {
    name: 'running backups are never removed, however old',
    backups: [b('r', 0), b('r', 400), b('s', 500)],
    keepDays: 1,
    keepLast: 0,
    keep: ['r@0', 'r@400', 's@500'],
    remove: [],
  },
  {
    name: 'exactly keepDays old is kept (strict "older than")',
    backups: [b('s', 0), b('s', 7), b('f', 7), b('f', 7.0001)],
    keepDays: 7,
    keepLast: 1,
    keep: ['s@0', 's@7', 'f@7'],
    remove: ['f@7.0001'],
  },
  {
    name: 'a backup dated in the future (clock skew) is kept and counts as the newest succeeded',
    backups: [b('s', -1), b('s', 20), b('s', 30)],
    keepDays: 7,
    keepLast: 2,
    keep: ['s@-1', 's@20'],
    remove: ['s@30'],
  },
  {
    name: 'only failed backups: all old ones go',
    backups: [b('f', 8), b('f', 9)],
    keepDays: 7,
    keepLast: 5,
    keep: [],
    remove: ['f@8', 'f@9'],
  },
];

describe('planRetention', () => {
  it.each(cases)('$name', ({ backups, keepDays, keepLast, keep, remove }) => {
    // Input order must not matter.
    const plan = planRetention([...backups].reverse(), { keepDays, keepLast, now: NOW });
    expect(plan.keep.map((d) => d.id)).toEqual(keep);
    expect(plan.remove.map((d) => d.id)).toEqual(remove);
    // Every backup decided exactly once, each with a reason.
    expect([...plan.keep, ...plan.remove].map((d) => d.id).sort()).toEqual(backups.map((x) => x.id).sort());
    expect([...plan.keep, ...plan.remove].every((d) => d.reason.length > 0)).toBe(true);
  });

  it('gives reasons an admin can read', () => {
    const plan = planRetention([b('s', 1), b('s', 2), b('s', 10), b('f', 10), b('r', 0)], { keepDays: 7, keepLast: 2, now: NOW });
    expect(plan.keep).toEqual([
      { id: 'r@0', reason: 'running' },
      { id: 's@1', reason: 'newest succeeded backup' },
      { id: 's@2', reason: 'among the newest 2 succeeded' },
    ]);
    // Same start time: the larger id first (ids sort by time), so the order is deterministic.
    expect(plan.remove).toEqual([
      { id: 's@10', reason: 'older than 7 days and not among the newest 2 succeeded' },
      { id: 'f@10', reason: 'failed, older than 7 days' },
    ]);
  });

  it('never removes the newest succeeded backup nor a running one, for any policy', () => {
    // A small exhaustive sweep instead of trusting the table alone.
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 300; round++) {
      const list: RetentionCandidate[] = Array.from({ length: 1 + Math.floor(rnd() * 12) }, (_, i) => ({
        id: `id${round}-${i}`,
        status: (['succeeded', 'failed', 'running'] as const)[Math.floor(rnd() * 3)],
        startedAt: new Date(NOW.getTime() - Math.floor(rnd() * 60 * DAY)),
      }));
      const plan = planRetention(list, { keepDays: Math.floor(rnd() * 10), keepLast: Math.floor(rnd() * 4), now: NOW });
      const removed = new Set(plan.remove.map((d) => d.id));
      const newest = list.filter((x) => x.status === 'succeeded').sort((x, y) => y.startedAt.getTime() - x.startedAt.getTime())[0];
      if (newest) expect(removed.has(newest.id)).toBe(false);
      for (const x of list) if (x.status === 'running') expect(removed.has(x.id)).toBe(false);
    }
  });

  it.each([
    [{ keepDays: -1, keepLast: 1 }, /keepDays/],
    [{ keepDays: 1.5, keepLast: 1 }, /keepDays/],
    [{ keepDays: 7, keepLast: -2 }, /keepLast/],
  ])('rejects a bad policy %o with a usage error', (p, msg) => {
    expect(() => planRetention([], { ...p, now: NOW })).toThrow(msg);
    try {
      planRetention([], { ...p, now: NOW });
    } catch (err) {
      expect((err as AppError).code).toBe('usage');
    }
  });

  it('rejects duplicate ids and invalid dates', () => {
    expect(() => planRetention([b('s', 1), b('s', 1)], { keepDays: 7, keepLast: 1, now: NOW })).toThrow(/listed twice/);
    expect(() => planRetention([{ id: 'x', status: 'succeeded', startedAt: new Date('nope') }], { keepDays: 7, keepLast: 1, now: NOW })).toThrow(
      /invalid start time/,
    );
  });
});
