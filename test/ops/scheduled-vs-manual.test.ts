import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_LOCK } from '../../lib/backup/backup-runs';
import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import { parseSchedule } from '../../lib/backup/schedule';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { events, startReceiver } from './receiver';
import type { Receiver } from './receiver';

/**
 * The scheduled slot fires while an operator's manual backup (or a CLI backup) is running: one
 * backup at a time, but the slot must not be lost and nobody is woken by a `backup_failed` alert
 * for a backup that did not fail. The running backup is stood in for by its advisory lock, held
 * by a real session.
 */
let db: TestDatabase;
let hook: Receiver;
let tmp: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'schedman' });
  hook = await startReceiver();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sched-manual-'));
});

afterAll(async () => {
  await hook?.close();
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('scheduled job while another backup runs', () => {
  it('waits for the running backup, then makes the slot\'s backup: no backup_failed alert, the slot succeeded', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1, $2)', [...BACKUP_LOCK]);
    const release = setTimeout(() => void holder.query('SELECT pg_advisory_unlock($1, $2)', [...BACKUP_LOCK]), 3_000);
    const storage = openStorage(path.join(tmp, 'a'));
    try {
      const r = await runScheduledBackup({
        databaseUrl: db.url,
        storage,
        source: 'schedule',
        schedule: parseSchedule('0 2 * * *'),
        env: { BACKUP_DRILL: 'off', BACKUP_ALERT_WEBHOOK_URL: `${hook.url}/hook` },
        log: () => {},
      });
      expect(r.error ?? null).toBeNull();
      expect(r.status).toBe('succeeded');
    } finally {
      clearTimeout(release);
      await storage.close();
      await holder.end();
    }
    expect(events(hook)).toEqual([]);
    expect((await readdir(path.join(tmp, 'a'))).filter((f) => f.endsWith('.manifest.json'))).toHaveLength(1);
    await withClient(db.url, async (c) => {
      expect((await c.query(`SELECT status FROM backup_schedule_slots`)).rows).toEqual([{ status: 'succeeded' }]);
      expect((await c.query(`SELECT count(*)::int AS n FROM activity_logs WHERE action = 'BACKUP_FAILED'`)).rows[0].n).toBe(0);
    });
  }, 120_000);

  it('another backup holds the lock longer than the job waits: busy, no alert, no failure recorded; a later call runs the slot', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1, $2)', [...BACKUP_LOCK]);
    const storage = openStorage(path.join(tmp, 'b'));
    const job = () =>
      runScheduledBackup({
        databaseUrl: db.url,
        storage,
        source: 'cli',
        schedule: parseSchedule('30 1 * * *'),
        busyWaitMs: 0,
        env: { BACKUP_DRILL: 'off', BACKUP_ALERT_WEBHOOK_URL: `${hook.url}/hook` },
        log: () => {},
      });
    try {
      const busy = await job();
      expect(busy.status).toBe('busy');
      expect(busy.reason).toMatch(/another backup is still running/);
      expect(events(hook)).toEqual([]);
      await withClient(db.url, async (c) => {
        expect((await c.query(`SELECT count(*)::int AS n FROM backup_schedule_slots WHERE status = 'failed'`)).rows[0].n).toBe(0);
        expect((await c.query(`SELECT count(*)::int AS n FROM activity_logs WHERE action = 'BACKUP_FAILED'`)).rows[0].n).toBe(0);
      });
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [...BACKUP_LOCK]);
      expect((await job()).status).toBe('succeeded');
      expect(events(hook)).toEqual([]);
    } finally {
      await storage.close();
      await holder.end();
    }
  }, 120_000);
});
