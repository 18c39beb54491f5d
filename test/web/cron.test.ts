import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKUP_LOCK } from '../../lib/backup/backup-runs';
import { listBackups } from '../../lib/backup/list-backups';
import { runBackup } from '../../lib/backup/run-backup';
import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import { withCron } from '../../lib/http/with-cron';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const SECRET = 'cron-secret-0123456789abcdef';
const DAY = 86_400_000;

const tempDir = (p: string) => mkdtemp(path.join(os.tmpdir(), p));
/** Backup ids in a local storage directory that have a manifest (i.e. that list as backups). */
const manifests = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.manifest.json')).map((f) => f.replace('.manifest.json', '')).sort();

describe('withCron', () => {
  const saved = process.env.CRON_SECRET;
  afterAll(() => {
    if (saved === undefined) delete process.env.CRON_SECRET;
    else process.env.CRON_SECRET = saved;
  });
  let calls = 0;
  const route = withCron(async () => {
    calls++;
    return Response.json({ ok: true });
  });
  const call = (auth?: string) => route(new Request('http://x/api/cron/daily-backup', { headers: auth ? { authorization: auth } : {} }));

  it('fails closed: no CRON_SECRET or one shorter than 16 characters is 503 config and the handler never runs', async () => {
    delete process.env.CRON_SECRET;
    let res = await call('Bearer ');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'config', message: 'CRON_SECRET is not set' } });
    process.env.CRON_SECRET = 'short-secret';
    res = await call('Bearer short-secret');
    expect(res.status).toBe(503);
    expect(calls).toBe(0);
  });

  it('401 for a missing, wrong, prefix or non-Bearer secret; runs the handler only for the exact header', async () => {
    process.env.CRON_SECRET = SECRET;
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${SECRET.slice(0, -1)}`, `Bearer ${SECRET}x`, SECRET, `Basic ${SECRET}`, `bearer  ${SECRET}`]) {
      const res = await call(auth);
      expect(res.status, String(auth)).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    expect(calls).toBe(0);
    const ok = await call(`Bearer ${SECRET}`);
    expect(ok.status).toBe(200);
    expect(calls).toBe(1);
  });
});

describe('GET/POST /api/cron/daily-backup', () => {
  let db: TestDatabase;
  let open: AppServer;
  let closed: AppServer;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: true });
    await withClient(db.url, (c) => seedDemoData(c, { scale: 50 }));
    dir = await tempDir('cron-route-');
    [closed, open] = await Promise.all([
      startAppServer({ databaseUrl: db.url, env: { CRON_SECRET: undefined, BACKUP_STORAGE_URL: dir } }),
      startAppServer({ databaseUrl: db.url, env: { CRON_SECRET: SECRET, BACKUP_STORAGE_URL: dir } }),
    ]);
    // Generous: other test runs in this work tree may hold the shared `next build` lock.
  }, 900_000);

  afterAll(async () => {
    await closed?.stop();
    await open?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const hit = (app: AppServer, auth?: string, method = 'GET') =>
    fetch(`${app.baseUrl}/api/cron/daily-backup`, { method, headers: auth ? { authorization: auth } : {} });

  it('without CRON_SECRET: 503 config, even with a guessed header, and no backup is made', async () => {
    for (const auth of [undefined, 'Bearer ', 'Bearer undefined']) {
      const res = await hit(closed, auth);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: { code: 'config', message: 'CRON_SECRET is not set' } });
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('wrong or missing secret: 401 JSON and no backup', async () => {
    for (const auth of [undefined, 'Bearer wrong-secret-0123456789', SECRET]) {
      const res = await hit(open, auth);
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
    expect(await readdir(dir)).toEqual([]);
    expect(await withClient(db.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM backup_runs')).rows[0].n)).toBe(0);
  });

  it('HEAD, even with the right secret, runs nothing: 405 (Next would answer it with the GET handler, i.e. a backup)', async () => {
    const res = await fetch(`${open.baseUrl}/api/cron/daily-backup`, { method: 'HEAD', headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(await readdir(dir)).toEqual([]);
    expect(await withClient(db.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM backup_schedule_slots')).rows[0].n)).toBe(0);
  });

  it('another backup (manual, CLI) holds the lock all the time: 409 with the one-line cause after waiting, records nothing; the slot may be run later', async () => {
    // Hold the engine's one-backup-at-a-time lock for longer than the route waits (30 s).
    await withClient(db.url, async (c) => {
      await c.query('SELECT pg_advisory_lock($1, $2)', [...BACKUP_LOCK]);
      const res = await hit(open, `Bearer ${SECRET}`);
      const body = await res.json();
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(body.error.code).toBe('conflict');
      expect(body.error.message).toMatch(/another backup is still running: a backup is already running/);
      expect(body.error.message).not.toContain('\n');
    });
    expect(await manifests(dir)).toHaveLength(0);
    expect(await withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM backup_schedule_slots WHERE status <> 'running'`)).rows[0].n)).toBe(0);
  });
  it('right secret, two concurrent calls for one slot: ONE verified backup, a cron backup_runs row and an AUTOMATED_BACKUP activity row; the other call waits and answers skipped', async () => {
    const [r1, r2] = await Promise.all([hit(open, `Bearer ${SECRET}`), hit(open, `Bearer ${SECRET}`)]);
    const bodies = [await r1.json(), await r2.json()];
    const body = bodies.find((b) => b.backup)!;
    expect(body, JSON.stringify(bodies)).toBeDefined();
    const [mine, theirs] = body === bodies[0] ? [r1, r2] : [r2, r1];
    const other = bodies.find((b) => b !== body)!;
    expect(mine.status).toBe(200);
    // The second call waits for the first (up to 30 s), then says skipped; a slower first run: 409.
    if (theirs.status === 200) expect(other).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/slot already ran/), backupId: body.backup.id });
    else {
      expect(theirs.status, JSON.stringify(other)).toBe(409);
      expect(other.error).toMatchObject({ code: 'conflict', message: expect.stringMatching(/slot is being run by another process/) });
    }
    expect(body.backup).toMatchObject({ status: 'succeeded', tables: expect.any(Number), rows: expect.any(Number) });
    expect(body.backup.rows).toBeGreaterThan(50);
    expect(body.backup.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(body.retention).toEqual({ kept: 1, removed: [], failed: [] });
    expect(await manifests(dir)).toEqual([body.backup.id]);

    await withClient(db.url, async (c) => {
      const runs = (await c.query('SELECT id, trigger, status, row_count FROM backup_runs')).rows;
      expect(runs).toEqual([{ id: body.backup.id, trigger: 'cron', status: 'succeeded', row_count: body.backup.rows }]);
      const acts = (await c.query(`SELECT action, entity_id, ip_address, user_agent, description FROM activity_logs WHERE action LIKE '%BACKUP%'`)).rows;
      expect(acts).toHaveLength(1); // the engine's row only: the route adds no duplicate
      expect(acts[0]).toMatchObject({ action: 'AUTOMATED_BACKUP', entity_id: body.backup.id, ip_address: 'system-automation', user_agent: 'backup-cron-job' });
      expect(acts[0].description).toMatch(/^Automated daily backup: \d+ records in \d+ tables/);
    });
  });

  it('a second delivery of the same slot later (GET or POST): 200 skipped with the slot\'s backup id, no second backup', async () => {
    const before = await manifests(dir);
    for (const method of ['GET', 'POST']) {
      const res = await hit(open, `Bearer ${SECRET}`, method);
      const body = await res.json();
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ status: 'skipped', reason: expect.any(String), backupId: before[0] });
    }
    expect(await manifests(dir)).toEqual(before);
    expect(await withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM backup_runs WHERE status = 'succeeded'`)).rows[0].n)).toBe(1);
  });

});

describe('runScheduledBackup retention (real database and storage, injected clock)', () => {
  let db: TestDatabase;
  let dir: string;
  let storage: StorageBackend;
  const made: string[] = [];
  const FAILED_ID = '20200101T000000Z-failed01';
  const ORPHAN_ID = '20200102T000000Z-orphan01';

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: true });
    await withClient(db.url, (c) => seedDemoData(c, { scale: 30 }));
    dir = await tempDir('cron-retention-');
    storage = openStorage(dir);
    for (let i = 0; i < 3; i++) made.push((await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' })).id);
    // A failed run whose archive was left behind, and an archive no run explains (maybe in progress).
    await withClient(db.url, (c) =>
      c.query(`INSERT INTO backup_runs (id, trigger, status, started_at, finished_at, error) VALUES ($1, 'cron', 'failed', now() - interval '2 days', now(), 'disk full')`, [FAILED_ID]),
    );
    await writeFile(path.join(dir, `${FAILED_ID}.sql.gz`), 'partial');
    await writeFile(path.join(dir, `${ORPHAN_ID}.sql.gz`), 'partial');
  });

  afterAll(async () => {
    await storage?.close();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a backup that could not run prunes nothing, even when every backup is past retention', async () => {
    const before = (await readdir(dir)).sort();
    // Another backup holds the engine's one-backup-at-a-time lock for the whole job.
    await withClient(db.url, async (c) => {
      await c.query('SELECT pg_advisory_lock($1, $2)', [...BACKUP_LOCK]);
      const r = await runScheduledBackup({ databaseUrl: db.url, storage, now: new Date(Date.now() + 365 * DAY), keepDays: 0, keepLast: 0, busyWaitMs: 0 });
      expect(r.status).toBe('busy');
      expect(r.backup).toBeNull();
      expect(r.reason).toMatch(/a backup is already running/);
      expect(r.retention).toMatchObject({ removed: [], failed: [], skipped: expect.stringContaining('nothing was pruned') });
    });
    expect((await readdir(dir)).sort()).toEqual(before);
  });

  it('removes backups past BACKUP_RETENTION_DAYS beyond the newest BACKUP_RETENTION_MIN, manifest and archive and row, and logs BACKUP_RETENTION', async () => {
    const r = await runScheduledBackup({
      databaseUrl: db.url,
      storage,
      now: new Date(Date.now() + 60 * DAY),
      env: { BACKUP_RETENTION_DAYS: '30', BACKUP_RETENTION_MIN: '2' },
    });
    expect(r.error).toBeUndefined();
    const today = r.backup!.id;
    expect(r.retention.failed).toEqual([]);
    expect(r.retention.removed.map((x) => x.id).sort()).toEqual([made[0], made[1], FAILED_ID].sort());
    expect(r.retention.removed.find((x) => x.id === FAILED_ID)!.reason).toBe('failed, older than 30 days');
    expect(r.retention.kept).toBe(2);

    // Kept: today's backup and the newest older one, both still complete and listed as good.
    const listed = await listBackups(storage);
    expect(listed.filter((b) => b.status === 'succeeded').map((b) => b.id).sort()).toEqual([made[2], today].sort());
    const files = await readdir(dir);
    for (const id of [made[0], made[1], FAILED_ID]) expect(files.filter((f) => f.startsWith(id))).toEqual([]);
    // The archive nobody explains is not retention's to delete.
    expect(files).toContain(`${ORPHAN_ID}.sql.gz`);

    await withClient(db.url, async (c) => {
      const ids = (await c.query(`SELECT id FROM backup_runs WHERE status <> 'deleted' ORDER BY id`)).rows.map((x) => x.id);
      expect(ids).toEqual([made[2], today].sort());
      // Removed backups stay in the history as deleted, saying when and why.
      const gone = (await c.query(`SELECT id, deleted_from, deleted_at, deleted_reason FROM backup_runs WHERE status = 'deleted' ORDER BY id`)).rows;
      expect(gone.map((g) => g.id)).toEqual([made[0], made[1], FAILED_ID].sort());
      for (const g of gone) {
        expect(g.deleted_at).toBeInstanceOf(Date);
        expect(g.deleted_reason).toMatch(/^retention: /);
        expect(g.deleted_from).toBe(g.id === FAILED_ID ? 'failed' : 'succeeded');
      }
      const logs = (await c.query(`SELECT description, ip_address, metadata FROM activity_logs WHERE action = 'BACKUP_RETENTION'`)).rows;
      expect(logs).toHaveLength(1);
      expect(logs[0].ip_address).toBe('system-automation');
      expect(logs[0].description).toMatch(/^Retention \(keep 30 days, at least 2\): removed 3 backups/);
      for (const id of [made[0], made[1], FAILED_ID]) expect(logs[0].description).toContain(id);
      expect(logs[0].metadata.removed).toHaveLength(3);
    });
  });

  it('an invalid BACKUP_RETENTION_DAYS still backs up but prunes nothing and says which variable is wrong', async () => {
    const before = await manifests(dir);
    const r = await runScheduledBackup({ databaseUrl: db.url, storage, now: new Date(Date.now() + 365 * DAY), env: { BACKUP_RETENTION_DAYS: '30d' } });
    expect(r.backup?.status).toBe('succeeded');
    expect(r.retention.removed).toEqual([]);
    expect(r.retention.error).toMatch(/^BACKUP_RETENTION_DAYS must be a whole number/);
    expect(await manifests(dir)).toEqual([...before, r.backup!.id].sort());
  });
});
