import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import { parseSchedule } from '../../lib/backup/schedule';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { events, startReceiver } from './receiver';
import type { Receiver } from './receiver';

/**
 * On Vercel nothing checks BACKUP_STORAGE_URL before the cron route runs (no `npm start`). A bad
 * value (a typo, credentials pasted into an s3:// URL, an unsupported scheme) fails every nightly
 * job before a backup starts. That failure must be what any other failure is: a failed run in
 * backup_runs naming the cause (the dashboard and /api/health/backups show it), and ONE
 * backup_failed alert; never a 500 in a function log that nobody reads.
 */
const EVERY_MINUTE = parseSchedule('* * * * *');
const base = new Date('2031-08-01T02:00:10Z').getTime();
let db: TestDatabase;
let hook: Receiver;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'storecfg' });
  hook = await startReceiver();
});
afterAll(async () => {
  await hook?.close();
  await db?.drop();
});

describe('a BACKUP_STORAGE_URL the job cannot open', () => {
  it('is a failed run naming the variable and ONE backup_failed alert; the secret in the URL is never echoed', async () => {
    const job = (minute: number, storageUrl: string) =>
      runScheduledBackup({
        databaseUrl: db.url,
        schedule: EVERY_MINUTE,
        source: 'cron',
        now: new Date(base + minute * 60_000),
        env: { BACKUP_STORAGE_URL: storageUrl, BACKUP_DRILL: 'off', BACKUP_ALERT_WEBHOOK_URL: `${hook.url}/hook` },
      });
    const r1 = await job(0, 's3://AKIAEXAMPLE:wJalrXUtnFEMI-secret@bucket/backups');
    expect(r1).toMatchObject({ status: 'failed', errorCode: 'config' });
    expect(r1.error).toMatch(/BACKUP_STORAGE_URL: S3 storage URL must not contain credentials/);
    const r2 = await job(1, 'ftp://backups.example/x');
    expect(r2.error).toMatch(/BACKUP_STORAGE_URL: unsupported storage URL scheme 'ftp:'/);
    expect(events(hook)).toEqual(['backup_failed']);
    expect(JSON.stringify(hook.received)).not.toContain('wJalrXUtnFEMI-secret');
    await withClient(db.url, async (c) => {
      const runs = (await c.query(`SELECT trigger, status, error FROM public.backup_runs ORDER BY started_at`)).rows;
      expect(runs).toHaveLength(2);
      expect(runs.map((r) => [r.trigger, r.status])).toEqual([['cron', 'failed'], ['cron', 'failed']]);
      expect(runs[0].error).toMatch(/BACKUP_STORAGE_URL/);
      expect(JSON.stringify(runs)).not.toContain('wJalrXUtnFEMI-secret');
      const slots = (await c.query(`SELECT status, error FROM public.backup_schedule_slots ORDER BY slot`)).rows;
      expect(slots.map((s) => s.status)).toEqual(['failed', 'failed']);
    });
  }, 60_000);
});
