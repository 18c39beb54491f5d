import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { listBackups } from '../../lib/backup/list-backups';
import { archiveKey } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

/**
 * The dashboard's DELETE must protect what retention protects: the newest backups that can be
 * RESTORED. The newest run may be recorded good in backup_runs while its archive in storage no
 * longer is (truncated by a bad sync: `list` says unreadable). Judged by backup_runs alone, the
 * older intact backup was deletable: one click and nothing restorable was left.
 */
const PASSWORD = 'correct horse battery';
let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let cookie = '';

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'dellast' });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-delete-last-'));
  await withClient(db.url, async (c) => {
    await seedDemoData(c, { scale: 50 });
    await upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD, fullName: 'አበበ ከበደ', role: 'super_admin' });
  });
  app = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, BACKUP_RETENTION_MIN: '1' } });
  const res = await fetch(`${app.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'root@tickethub.et', password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  cookie = res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))!.split(';')[0];
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

describe('DELETE /api/admin/backups/{id} and the newest restorable backup', () => {
  it('409 for the only restorable backup when the newer one recorded good is unreadable in storage; deletable again once a newer good one exists', async () => {
    const storage = openStorage(storageDir);
    const intact = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    const broken = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    const file = path.join(storageDir, archiveKey(broken.id));
    truncateSync(file, readFileSync(file).length - 100);
    const status = async () => new Map((await listBackups(storage)).map((b) => [b.id, b.status]));
    expect(await status()).toEqual(new Map([[intact.id, 'succeeded'], [broken.id, 'unreadable']]));

    const del = (id: string) => fetch(`${app.baseUrl}/api/admin/backups/${id}`, { method: 'DELETE', headers: { cookie, origin: app.baseUrl } });
    const refused = await del(intact.id);
    expect(refused.status, await refused.clone().text()).toBe(409);
    expect((await refused.json()).error.message).toMatch(/retention keeps/);
    expect(readdirSync(storageDir).filter((f) => f.startsWith(intact.id))).toHaveLength(2);

    // A newer good backup: the intact one is an ordinary old backup again.
    const fresh = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    expect((await del(intact.id)).status).toBe(200);
    expect((await del(fresh.id)).status).toBe(409);
    await storage.close();
  }, 180_000);
});
