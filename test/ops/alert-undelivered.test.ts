import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import { parseSchedule } from '../../lib/backup/schedule';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { events, startReceiver } from './receiver';
import type { Receiver } from './receiver';

/**
 * "Once per incident" must mean once DELIVERED per incident: when the receiver is down (refused,
 * hanging, 500) at the first failure, the backups keep failing and the admin must still hear of it
 * as soon as the receiver is back, not never. Meanwhile every failure is recorded with its cause,
 * every undelivered alert is an activity row, and no job hangs on the receiver.
 */
const MINUTE = 60_000;
const EVERY_MINUTE = parseSchedule('* * * * *');
const base = new Date('2031-06-01T10:00:30Z').getTime();

let db: TestDatabase;
let hook: Receiver;
let tmp: string;
let dir: string;
let hanging: http.Server;
let hangingUrl: string;
let refusedUrl: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'alertundeliv' });
  await withClient(db.url, (c) => seedDemoData(c, { scale: 50 }));
  hook = await startReceiver();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'alert-undelivered-'));
  dir = path.join(tmp, 'store');
  // Accepts the connection and never answers.
  hanging = http.createServer(() => {});
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
  // A port nobody listens on: connection refused.
  const gone = http.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  refusedUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/hook`;
  await new Promise<void>((r) => gone.close(() => r()));
});
afterAll(async () => {
  await db?.drop();
  await hook?.close();
  hanging?.closeAllConnections();
  await new Promise<void>((r) => (hanging ? hanging.close(() => r()) : r()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const job = (minute: number, webhook: string, databaseUrl = db.url) =>
  runScheduledBackup({
    databaseUrl,
    storage: openStorage(dir),
    schedule: EVERY_MINUTE,
    source: 'schedule',
    now: new Date(base + minute * MINUTE),
    env: { BACKUP_DRILL: 'off', BACKUP_ALERT_WEBHOOK_URL: webhook },
  });

describe('alerts while the receiver is down', () => {
  it('refused, hanging, 500: each failed run is recorded with its cause and the undelivered alert logged, within bounded time; receiver back: ONE backup_failed, then ONE backup_recovered', async () => {
    // Storage unwritable (a file where the directory should be): every backup fails.
    await writeFile(dir, 'not a directory');
    let m = 0;
    for (const webhook of [refusedUrl, hangingUrl, `${hook.url}/hook`]) {
      hook.status = webhook.startsWith(hook.url) ? 500 : 200;
      const t0 = Date.now();
      const r = await job(++m, webhook);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.status).toBe('failed');
      expect(r.errorCode).toBe('storage');
      expect(r.alerts).toEqual([{ event: 'backup_failed', delivered: false }]);
    }
    expect(hook.received).toHaveLength(3); // the 500 receiver was tried 3 times
    await withClient(db.url, async (c) => {
      const runs = (await c.query(`SELECT status, error FROM backup_runs ORDER BY started_at`)).rows;
      expect(runs).toHaveLength(3);
      for (const r of runs) {
        expect(r.status).toBe('failed');
        expect(r.error).toMatch(/not a directory|ENOTDIR|EEXIST|storage/i);
      }
      const failed = (await c.query(`SELECT description FROM activity_logs WHERE action = 'BACKUP_ALERT_FAILED' ORDER BY id`)).rows.map((x) => x.description);
      expect(failed).toHaveLength(3);
      expect(failed[0]).toMatch(/^Alert backup_failed could not be sent by webhook after 3 tries: ECONNREFUSED/);
      expect(failed[1]).toMatch(/no answer within \d+ ms/);
      expect(failed[2]).toMatch(/HTTP 500/);
    });

    // The receiver works again, the backups still fail: the admin hears of the incident now, once.
    hook.status = 200;
    hook.received.length = 0;
    const r4 = await job(++m, `${hook.url}/hook`);
    expect(r4.status).toBe('failed');
    expect(events(hook)).toEqual(['backup_failed']);
    expect(r4.alerts).toEqual([{ event: 'backup_failed', delivered: true }]);
    await job(++m, `${hook.url}/hook`);
    expect(events(hook)).toEqual(['backup_failed']);
    await withClient(db.url, async (c) => {
      expect((await c.query('SELECT kind, failures FROM backup_alert_state')).rows).toEqual([{ kind: 'backup_failed', failures: 5 }]);
    });

    // Storage back: one backup_recovered.
    await rm(dir, { force: true });
    await mkdir(dir);
    const ok = await job(m + 1, `${hook.url}/hook`);
    expect(ok.status).toBe('succeeded');
    expect(events(hook)).toEqual(['backup_failed', 'backup_recovered']);
  }, 180_000);

  it('database down too (incident state in storage): the alert nobody received is sent with the next failure, then not again', async () => {
    const down = 'postgres://postgres@127.0.0.1:1/tickethub';
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    hook.received.length = 0;
    const r1 = await job(20, refusedUrl, down);
    expect(r1).toMatchObject({ status: 'failed', errorCode: 'db_unreachable', alerts: [{ event: 'backup_failed', delivered: false }] });
    const r2 = await job(21, `${hook.url}/hook`, down);
    expect(r2.alerts).toEqual([{ event: 'backup_failed', delivered: true }]);
    await job(22, `${hook.url}/hook`, down);
    expect(events(hook)).toEqual(['backup_failed']);
  }, 60_000);
});
