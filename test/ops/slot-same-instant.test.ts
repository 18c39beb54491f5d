import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import { parseSchedule } from '../../lib/backup/schedule';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

/**
 * The cron route (vercel.json: `0 2 * * *` UTC) and the in-process scheduler (BACKUP_SCHEDULE in
 * BACKUP_TZ) fire at the same minute but spell the schedule differently: an operator in Addis
 * Ababa writes `0 5 * * *` with BACKUP_TZ=Africa/Addis_Ababa (05:00 local = 02:00 UTC), another
 * writes BACKUP_TZ=Etc/UTC or `00 02 * * *`. Same instant, so ONE backup, not one per spelling.
 */
let db: TestDatabase;
let tmp: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'slotinstant' });
  await withClient(db.url, (c) => seedDemoData(c, { scale: 20 }));
  tmp = await mkdtemp(path.join(os.tmpdir(), 'slot-instant-'));
});
afterAll(async () => {
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const manifests = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.manifest.json'));

describe('one backup per instant, whatever schedule spelling fires it', () => {
  it('cron route schedule and scheduler schedules firing at the same instant: one backup; the others skip with its id', async () => {
    const dir = path.join(tmp, 'store');
    const now = new Date('2031-07-01T02:00:04Z');
    const env = { BACKUP_DRILL: 'off' };
    const job = (schedule: ReturnType<typeof parseSchedule>, source: 'cron' | 'schedule', waitMs = 0) =>
      runScheduledBackup({ databaseUrl: db.url, storage: openStorage(dir), schedule, source, now, env, waitMs });
    const vercel = parseSchedule('0 2 * * *', 'UTC', 'vercel.json schedule');
    const addis = parseSchedule('0 5 * * *', 'Africa/Addis_Ababa');
    const [a, b] = await Promise.all([job(vercel, 'cron', 30_000), job(addis, 'schedule')]);
    expect([a.slot, b.slot]).toEqual(['2031-07-01T02:00:00.000Z', '2031-07-01T02:00:00.000Z']);
    const made = [a, b].filter((r) => r.status === 'succeeded');
    expect(made, JSON.stringify([a, b].map((r) => [r.status, r.reason, r.error]))).toHaveLength(1);
    expect(['busy', 'skipped']).toContain([a, b].find((r) => r.status !== 'succeeded')!.status);
    const id = made[0].backup!.id;
    for (const s of [parseSchedule('0 2 * * *', 'Etc/UTC'), parseSchedule('00 02 * * *', 'UTC'), addis, vercel]) {
      const r = await job(s, 'schedule');
      expect(r, s.key).toMatchObject({ status: 'skipped', backupId: id });
    }
    expect(await manifests(dir)).toEqual([`${id}.manifest.json`]);
    // The next day is a new slot for every spelling.
    const next = await runScheduledBackup({ databaseUrl: db.url, storage: openStorage(dir), schedule: addis, source: 'schedule', now: new Date('2031-07-02T02:00:01Z'), env });
    expect(next.status).toBe('succeeded');
    expect(await manifests(dir)).toHaveLength(2);
  }, 120_000);

  it('a trigger that comes a moment early belongs to the coming slot, not to the one that already ran', async () => {
    // Before: a call at 01:59:59 (an external cron whose clock is 1 s ahead) counted for the
    // previous day's slot, which had run: "skipped", and the day had no backup.
    const dir = path.join(tmp, 'early');
    const schedule = parseSchedule('0 2 * * *', 'UTC');
    const env = { BACKUP_DRILL: 'off' };
    const job = (now: string) => runScheduledBackup({ databaseUrl: db.url, storage: openStorage(dir), schedule, source: 'cron', now: new Date(now), env });
    const first = await job('2031-08-01T02:00:02Z');
    expect(first).toMatchObject({ status: 'succeeded', slot: '2031-08-01T02:00:00.000Z' });
    const early = await job('2031-08-02T01:59:59Z');
    expect(early, JSON.stringify([early.status, early.reason, early.error])).toMatchObject({ status: 'succeeded', slot: '2031-08-02T02:00:00.000Z' });
    // The on-time trigger of the same slot then finds it done.
    expect(await job('2031-08-02T02:00:01Z')).toMatchObject({ status: 'skipped', backupId: early.backup!.id });
    // Far from the next slot, a call still belongs to the last one.
    expect(await job('2031-08-02T12:00:00Z')).toMatchObject({ status: 'skipped', slot: '2031-08-02T02:00:00.000Z' });
    expect(await job('2031-08-03T01:50:00Z')).toMatchObject({ status: 'skipped', slot: '2031-08-02T02:00:00.000Z' });
    expect(await manifests(dir)).toHaveLength(2);
  }, 120_000);
});
