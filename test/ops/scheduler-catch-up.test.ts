import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestSlot, parseSchedule } from '../../lib/backup/schedule';
import { startBackupScheduler } from '../../lib/backup/start-scheduler';
import { closePool } from '../../lib/db/pool';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

/**
 * Issue 11: "A slot missed while the server was down is caught up once at start (not once per
 * missed slot)", and a fresh install waits for its first slot. The in-process scheduler against a
 * real database and storage; the ledger says what ran before.
 */
const SCHEDULE = '0 2 * * *';
const DAY = 86_400_000;
let db: TestDatabase;
let tmp: string;
const saved = { DATABASE_URL: process.env.DATABASE_URL };

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'catchup' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'catch-up-'));
  process.env.DATABASE_URL = db.url; // the scheduler's own connection (instrumentation passes none)
});

afterAll(async () => {
  process.env.DATABASE_URL = saved.DATABASE_URL;
  if (saved.DATABASE_URL === undefined) delete process.env.DATABASE_URL;
  await closePool();
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ledger = () => withClient(db.url, async (c) => (await c.query(`SELECT slot, status, source FROM backup_schedule_slots ORDER BY slot`)).rows as { slot: Date; status: string; source: string }[]);
const runs = () => withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM backup_runs`)).rows[0].n as number);

/** Starts the scheduler, waits until its start-up work settled (no running slot, log quiet), stops it. */
async function startAndSettle(storage: string): Promise<string[]> {
  const log: string[] = [];
  const s = startBackupScheduler({ ...process.env, BACKUP_SCHEDULE: SCHEDULE, BACKUP_STORAGE_URL: storage, BACKUP_DRILL: 'off' }, (l) => log.push(l));
  expect(s).not.toBeNull();
  try {
    const deadline = Date.now() + 90_000;
    await sleep(1500);
    while (Date.now() < deadline && (log.some((l) => l.includes('catching up')) ? !log.some((l) => /slot .*: (backup|skipped|busy)/.test(l)) : false)) await sleep(250);
  } finally {
    s!.stop();
  }
  return log;
}

describe('in-process scheduler: catch-up at start', () => {
  it('a fresh install (no earlier slot in the ledger) does not back up at start', async () => {
    const storage = path.join(tmp, 'fresh');
    const log = await startAndSettle(storage);
    expect(log.join('\n')).not.toMatch(/catching up/);
    expect(await runs()).toBe(0);
  }, 120_000);

  it('three slots missed while the server was down: ONE catch-up backup, for the latest slot; a restart right after runs nothing', async () => {
    const storage = path.join(tmp, 'missed');
    const latest = latestSlot(parseSchedule(SCHEDULE))!;
    await withClient(db.url, (c) =>
      c.query(`INSERT INTO backup_schedule_slots (schedule, slot, source, status, finished_at) VALUES ($1, $2, 'schedule', 'succeeded', now())`, [`${SCHEDULE} UTC`, new Date(latest.getTime() - 4 * DAY)]),
    );
    const log = await startAndSettle(storage);
    expect(log.join('\n')).toMatch(/catching up the missed slot/);
    expect(await runs()).toBe(1);
    const rows = await ledger();
    expect(rows.map((r) => [new Date(r.slot).toISOString(), r.status])).toEqual([
      [new Date(latest.getTime() - 4 * DAY).toISOString(), 'succeeded'],
      [latest.toISOString(), 'succeeded'],
    ]);
    expect((await readdir(storage)).filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);

    const again = await startAndSettle(storage);
    expect(again.join('\n')).not.toMatch(/catching up/);
    expect(await runs()).toBe(1);
  }, 180_000);
});
