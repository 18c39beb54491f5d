import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lib/db/embedded';
import { ensureAppBuilt } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { events, startReceiver } from '../ops/receiver';
import type { Receiver } from '../ops/receiver';
import { launch, tempDataDir } from './launcher';
import type { Launcher } from './launcher';

/**
 * The Done-when of issue 11 for a server: `npm start` with BACKUP_SCHEDULE="* * * * *" backs up on
 * its own; with the storage made unwritable the runs fail, /api/health/backups answers 503 and the
 * webhook gets ONE backup_failed; storage back: ONE backup_recovered and health 200. Two instances
 * on one database run each slot once.
 */
describe('npm start: in-process scheduler (two instances on one database)', () => {
  let release: (() => void) | undefined;
  let db: TestDatabase;
  let hook: Receiver;
  let tmp: string;
  let storageDir: string;
  const runs: Launcher[] = [];
  const ports: number[] = [];

  beforeAll(async () => {
    release = await ensureAppBuilt(`${process.pid}-scheduler-test`);
    db = await createTestDatabase({ prefix: 'sched_start' });
    hook = await startReceiver();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'sched-start-'));
    storageDir = path.join(tmp, 'backups');
    await mkdir(storageDir);
  }, 900_000);

  afterAll(async () => {
    for (const r of runs) r.child.kill('SIGTERM');
    await Promise.all(runs.map((r) => r.exit));
    release?.();
    await hook?.close();
    await db?.drop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const health = async (port: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/health/backups`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** Scheduler log lines of both instances. */
  const log = () => runs.map((r) => r.output()).join('\n');
  const count = (re: RegExp) => (log().match(new RegExp(re.source, 'g')) ?? []).length;

  it('backs up within two minutes; an unwritable storage fails the runs (503, ONE backup_failed); storage back: ONE backup_recovered and 200', async () => {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      ports.push(port);
      runs.push(
        launch([], {
          TICKETHUB_DATA_DIR: await tempDataDir(),
          DATABASE_URL: db.url,
          PORT: String(port),
          ADMIN_EMAIL: 'ops@tickethub.et',
          ADMIN_PASSWORD: 'scheduler-test-password',
          BACKUP_SCHEDULE: '* * * * *',
          BACKUP_STORAGE_URL: storageDir,
          BACKUP_DRILL: 'off',
          BACKUP_ALERT_WEBHOOK_URL: `${hook.url}/alerts`,
        }),
      );
    }
    await Promise.all(runs.map((r) => r.waitFor(/\[scheduler\] scheduled backups \* \* \* \* \* \(UTC\)/, 240_000)));

    // 1. A backup within two minutes, made by exactly one of the two instances.
    const t0 = Date.now();
    await Promise.race(runs.map((r) => r.waitFor(/\[scheduler\] slot \S+: backup \S+ succeeded/, 130_000)));
    expect(Date.now() - t0).toBeLessThan(130_000);
    expect((await health(ports[0])).status).toBe(200);

    // 2. Storage unwritable (a file where the directory was): the next runs fail.
    await rm(storageDir, { recursive: true, force: true });
    await writeFile(storageDir, 'not a directory');
    const failedBefore = count(/backup FAILED/);
    const deadline = Date.now() + 200_000;
    while (count(/backup FAILED/) < failedBefore + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2000));
    expect(count(/backup FAILED/)).toBeGreaterThanOrEqual(failedBefore + 2);
    for (const p of ports) {
      const h = await health(p);
      expect(h.status).toBe(503);
      expect(h.body.status).toBe('failing');
      // Public endpoint: no ids, sizes or error text.
      expect(JSON.stringify(h.body)).not.toMatch(/\d{8}T\d{6}Z-|ENOTDIR|size/i);
    }
    expect(events(hook)).toEqual(['backup_failed']);

    // 3. Storage back: the next run succeeds; one backup_recovered; health 200 again.
    await rm(storageDir, { force: true });
    await mkdir(storageDir);
    const okBefore = count(/: backup \S+ succeeded/);
    const until = Date.now() + 200_000;
    while (count(/: backup \S+ succeeded/) < okBefore + 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 2000));
    expect(count(/: backup \S+ succeeded/)).toBeGreaterThanOrEqual(okBefore + 2);
    expect(events(hook)).toEqual(['backup_failed', 'backup_recovered']);
    const h = await health(ports[1]);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'ok', lastVerifiedBackupAt: expect.any(String), ageHours: expect.any(Number) });

    // Two instances, one database: every slot that succeeded made exactly one backup.
    await withClient(db.url, async (c) => {
      const slots = (await c.query(`SELECT slot, backup_id FROM backup_schedule_slots WHERE status = 'succeeded'`)).rows;
      const made = (await c.query(`SELECT id FROM backup_runs WHERE trigger = 'schedule' AND status = 'succeeded'`)).rows;
      expect(made.length).toBe(slots.length);
      expect(new Set(slots.map((s) => s.backup_id)).size).toBe(slots.length);
      const perMinute = (await c.query(`SELECT date_trunc('minute', started_at) m, count(*)::int n FROM backup_runs WHERE trigger = 'schedule' AND status = 'succeeded' GROUP BY 1 HAVING count(*) > 1`)).rows;
      expect(perMinute).toEqual([]);
    });
    expect(count(/: (skipped|busy): /)).toBeGreaterThan(0); // the other instance saw the slot taken
  }, 900_000);
});
