import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../lib/backup/list-backups';
import { reindex } from '../../lib/backup/reindex';
import { runBackup } from '../../lib/backup/run-backup';
import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import type { ScheduledBackupOptions } from '../../lib/backup/run-scheduled-backup';
import { parseSchedule } from '../../lib/backup/schedule';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { events, startReceiver } from './receiver';
import type { Receiver } from './receiver';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');
const MINUTE = 60_000;
const EVERY_MINUTE = parseSchedule('* * * * *');

function cli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const full = { ...process.env, ...env };
    for (const k of Object.keys(full)) if (full[k] === undefined) delete full[k];
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const manifests = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.manifest.json')).sort();

let db: TestDatabase;
let hook: Receiver;
let tg: Receiver;
let tmp: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'sched' });
  await withClient(db.url, (c) => seedDemoData(c, { scale: 200 }));
  hook = await startReceiver();
  tg = await startReceiver();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sched-job-'));
});
afterAll(async () => {
  await db?.drop();
  await hook?.close();
  await tg?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Environment of the alert channels pointing at the test's own receivers. */
const alertEnv = (extra: Record<string, string> = {}) => ({
  BACKUP_DRILL: 'off',
  BACKUP_ALERT_WEBHOOK_URL: `${hook.url}/hook`,
  TELEGRAM_BOT_TOKEN: '123456:test-token-secret',
  TELEGRAM_ALERT_CHAT_ID: '-1001',
  TELEGRAM_API_BASE_URL: tg.url,
  ...extra,
});

describe('run-scheduled (CLI): exactly once per slot', () => {
  it('twice in one slot makes one backup; the second says skipped; exit 0 both times', async () => {
    const dir = path.join(tmp, 'cli-once');
    const env = { DATABASE_URL: db.url, BACKUP_STORAGE_URL: dir, BACKUP_SCHEDULE: '0 2 * * *', BACKUP_DRILL: 'off', BACKUP_ALERT_WEBHOOK_URL: undefined, TELEGRAM_BOT_TOKEN: undefined };
    const first = await cli(['run-scheduled', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1.status).toBe('succeeded');
    const second = await cli(['run-scheduled'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/skipped: the .* slot already ran/);
    expect(await manifests(dir)).toEqual([`${r1.backup.id}.manifest.json`]);
    await withClient(db.url, async (c) => {
      const row = (await c.query('SELECT trigger, status FROM backup_runs WHERE id = $1', [r1.backup.id])).rows[0];
      expect(row).toEqual({ trigger: 'schedule', status: 'succeeded' });
      const act = (await c.query(`SELECT ip_address, user_agent FROM activity_logs WHERE action = 'AUTOMATED_BACKUP' AND entity_id = $1`, [r1.backup.id])).rows;
      expect(act).toEqual([{ ip_address: 'system-automation', user_agent: 'backup-cron-job' }]);
    });
  }, 120_000);

  it('exit 1 with a one-line cause when the job fails (a transaction-mode pooler URL is refused by name)', async () => {
    const u = new URL(db.url);
    u.port = '6543';
    const r = await cli(['run-scheduled'], { DATABASE_URL: u.toString(), BACKUP_STORAGE_URL: path.join(tmp, 'pooler'), BACKUP_DRILL: 'off', BACKUP_ALERT_WEBHOOK_URL: undefined, TELEGRAM_BOT_TOKEN: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/port 6543 .*transaction-mode pooler.*session pooler or a direct connection \(port 5432\)/);
  }, 60_000);
});

describe('scheduled job: concurrency, alerts once per incident, anomaly, database down', () => {
  const base = new Date('2031-05-01T10:00:30Z').getTime();
  let dir: string;
  const job = (minute: number, extra: Partial<ScheduledBackupOptions> = {}) =>
    runScheduledBackup({ databaseUrl: db.url, storage: openStorage(dir), schedule: EVERY_MINUTE, source: 'schedule', now: new Date(base + minute * MINUTE), env: alertEnv(), ...extra });

  beforeAll(async () => {
    dir = path.join(tmp, 'job');
    await mkdir(dir, { recursive: true });
  });

  it('two concurrent jobs for one slot (two app instances): one backup; the other is busy or skipped', async () => {
    const before = (await manifests(dir)).length;
    const [a, b] = await Promise.all([job(0), job(0)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses[1]).toBe('succeeded');
    expect(['busy', 'skipped']).toContain(statuses[0]);
    expect((await manifests(dir)).length).toBe(before + 1);
    const again = await job(0);
    expect(again).toMatchObject({ status: 'skipped', backupId: (a.backup ?? b.backup)!.id });
    expect(hook.received).toEqual([]); // nothing to alert about
  }, 120_000);

  it('storage unwritable: many failing runs, ONE backup_failed; storage back: ONE backup_recovered', async () => {
    // Replace the storage directory by a file: every write fails (also as root, unlike chmod).
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'not a directory');
    for (let m = 1; m <= 4; m++) {
      const r = await job(m);
      expect(r.status).toBe('failed');
      expect(r.errorCode).toBe('storage');
    }
    expect(events(hook)).toEqual(['backup_failed']);
    const payload = hook.received[0].body as Record<string, unknown>;
    expect(payload).toMatchObject({ event: 'backup_failed', severity: 'critical', backupId: null, message: expect.any(String), occurredAt: expect.any(String) });
    expect(payload.text).toMatch(/TicketHub backup FAILED/);
    expect(tg.received).toHaveLength(1);
    expect(tg.received[0].path).toBe('/bot123456:test-token-secret/sendMessage');
    await withClient(db.url, async (c) => {
      expect((await c.query('SELECT kind, failures FROM backup_alert_state')).rows).toEqual([{ kind: 'backup_failed', failures: 4 }]);
    });

    await rm(dir, { force: true });
    await mkdir(dir);
    const ok = await job(5);
    expect(ok.status).toBe('succeeded');
    const ok2 = await job(6);
    expect(ok2.status).toBe('succeeded');
    expect(events(hook)).toEqual(['backup_failed', 'backup_recovered']);
    expect(hook.received[1].body).toMatchObject({ event: 'backup_recovered', severity: 'info', backupId: ok.backup!.id });
  }, 240_000);

  it('anomaly: most tickets deleted -> ONE anomaly alert, not repeated by the next small backup', async () => {
    hook.received.length = 0;
    await withClient(db.url, (c) => c.query(`DELETE FROM public.tickets WHERE id IN (SELECT id FROM public.tickets ORDER BY id OFFSET 10)`));
    const r = await job(7);
    expect(r.status).toBe('succeeded');
    expect(events(hook)).toEqual(['anomaly']);
    expect((hook.received[0].body as { message: string }).message).toMatch(/public\.tickets: 10 rows against a median of \d+/);
    expect((await job(8)).status).toBe('succeeded');
    expect(events(hook)).toEqual(['anomaly']);
  }, 120_000);

  it('a failing webhook is retried 3 times, logged as an activity row, and does not hold the job for long', async () => {
    hook.received.length = 0;
    hook.status = 500;
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'x');
    const t0 = Date.now();
    const r = await job(9);
    const took = Date.now() - t0;
    hook.status = 200;
    await rm(dir, { force: true });
    await mkdir(dir);
    expect(r.status).toBe('failed');
    expect(hook.received).toHaveLength(3);
    expect(took).toBeLessThan(15_000);
    await withClient(db.url, async (c) => {
      const rows = (await c.query(`SELECT description, ip_address FROM activity_logs WHERE action = 'BACKUP_ALERT_FAILED'`)).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0].description).toMatch(/^Alert backup_failed could not be sent by webhook after 3 tries: HTTP 500/);
      expect(rows[0].description).not.toContain('test-token-secret');
    });
    expect((await job(10)).status).toBe('succeeded'); // closes the incident again
  }, 120_000);

  it('database unreachable: <id>.failed.json in storage, a backup_failed alert, list shows it, reindex folds it into backup_runs', async () => {
    hook.received.length = 0;
    const down = 'postgres://postgres@127.0.0.1:1/tickethub';
    const r = await job(11, { databaseUrl: down });
    expect(r.status).toBe('failed');
    expect(r.errorCode).toBe('db_unreachable');
    expect(events(hook)).toEqual(['backup_failed']);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.failed.json'));
    expect(files).toHaveLength(1);
    const id = files[0].replace('.failed.json', '');
    const listed = (await listBackups(openStorage(dir))).find((b) => b.id === id);
    expect(listed).toMatchObject({ status: 'failed', error: expect.stringMatching(/cannot connect/) });
    const list = await cli(['list', '--storage', dir], {});
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id}.*failed`));

    // A second night with the database still down: same incident, no second alert.
    await job(12, { databaseUrl: down });
    expect(events(hook)).toEqual(['backup_failed']);

    const ri = await reindex(openStorage(dir), db.url);
    expect(ri.failed.length).toBe(2);
    expect(ri.failed).toContain(id);
    await withClient(db.url, async (c) => {
      expect((await c.query('SELECT status, trigger, error FROM backup_runs WHERE id = $1', [id])).rows[0]).toMatchObject({ status: 'failed', trigger: 'schedule', error: expect.stringMatching(/cannot connect/) });
    });
    expect((await readdir(dir)).filter((f) => f.endsWith('.failed.json'))).toEqual([]);
    // Database back: the incident opened while it was down is closed by the next good backup.
    expect((await job(13)).status).toBe('succeeded');
    expect(events(hook)).toEqual(['backup_failed', 'backup_recovered']);
  }, 120_000);

  it('Telegram text in Amharic when BACKUP_ALERT_LOCALE=am', async () => {
    tg.received.length = 0;
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'x');
    await job(14, { env: alertEnv({ BACKUP_ALERT_LOCALE: 'am' }) });
    await rm(dir, { force: true });
    await mkdir(dir);
    expect(tg.received).toHaveLength(1);
    const body = tg.received[0].body as { chat_id: string; text: string };
    expect(body.chat_id).toBe('-1001');
    expect(body.text).toMatch(/የTicketHub ምትኬ አልተሳካም/);
    expect(body.text).toMatch(/[\u1200-\u137f]{3,}/);
    await job(15, { env: alertEnv({ BACKUP_ALERT_LOCALE: 'am' }) });
    expect((tg.received[1].body as { text: string }).text).toMatch(/ምትኬዎች እንደገና እየሠሩ ነው/);
  }, 120_000);
});

describe('prune (CLI)', () => {
  it('--dry-run lists every backup with keep/remove and why and changes nothing; without it removes and keeps the rows as deleted', async () => {
    const dir = path.join(tmp, 'prune');
    const storage = openStorage(dir);
    for (let i = 0; i < 4; i++) await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await withClient(db.url, (c) =>
      c.query(`INSERT INTO backup_runs (id, trigger, status, started_at, finished_at, error) VALUES ('20200101T000000Z-prunefail', 'cli', 'failed', now() - interval '3 days', now(), 'disk full')`),
    );
    const env = { DATABASE_URL: db.url, BACKUP_STORAGE_URL: dir, BACKUP_RETENTION_DAYS: '0', BACKUP_RETENTION_MIN: '2', BACKUP_KEEP_DAILY: '0' };
    const filesBefore = (await readdir(dir)).sort();
    const rowsBefore = await withClient(db.url, async (c) => (await c.query('SELECT id, status FROM backup_runs ORDER BY id')).rows);
    const dry = await cli(['prune', '--dry-run', '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.dryRun).toBe(true);
    expect(plan.removed).toEqual([]);
    const keep = plan.items.filter((i: { action: string }) => i.action === 'keep');
    const remove = plan.items.filter((i: { action: string }) => i.action === 'remove');
    expect(keep.filter((i: { status: string }) => i.status === "succeeded"), JSON.stringify(plan.items, null, 1)).toHaveLength(2);
    expect(remove.map((r: { id: string }) => r.id)).toContain('20200101T000000Z-prunefail');
    expect(remove).toHaveLength(3);
    for (const i of plan.items) expect(i.reason).toEqual(expect.any(String));
    expect((await readdir(dir)).sort()).toEqual(filesBefore);
    expect(await withClient(db.url, async (c) => (await c.query('SELECT id, status FROM backup_runs ORDER BY id')).rows)).toEqual(rowsBefore);

    const human = await cli(['prune', '--dry-run'], env);
    expect(human.stdout).toMatch(/^would remove {2}\d{8}T/m);
    expect(human.stdout).toMatch(/dry run: would remove \d+, kept \d+/);

    const real = await cli(['prune', '--json'], env);
    expect(real.code, real.stderr).toBe(0);
    const done = JSON.parse(real.stdout);
    expect(done.removed.map((r: { id: string }) => r.id).sort()).toEqual(remove.map((r: { id: string }) => r.id).sort());
    expect((await listBackups(openStorage(dir))).filter((b) => b.status === 'succeeded')).toHaveLength(2);
    await withClient(db.url, async (c) => {
      const gone = (await c.query(`SELECT id, deleted_reason FROM backup_runs WHERE status = 'deleted' AND id = ANY($1)`, [remove.map((r: { id: string }) => r.id)])).rows;
      expect(gone.length).toBe(remove.length);
      for (const g of gone) expect(g.deleted_reason).toMatch(/^retention: /);
    });
  }, 120_000);
});
