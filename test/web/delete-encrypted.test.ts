import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { listBackups } from '../../lib/backup/list-backups';
import { encryptedArchiveKey } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

/**
 * Deleting an ENCRYPTED backup from the dashboard (DELETE /api/admin/backups/{id}) must delete its
 * data: the archive of an encrypted backup is `<id>.sql.gz.age`, not `<id>.sql.gz`. Left behind, the
 * ciphertext of a "deleted" backup stays in storage for ever and `list` shows it as incomplete.
 */
const PASSWORD = 'correct horse battery';
let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let cookie = '';

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'delenc' });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-delete-encrypted-'));
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

describe('DELETE /api/admin/backups/{id} of an encrypted backup', () => {
  it('removes the manifest AND the .sql.gz.age ciphertext; list no longer shows the id at all', async () => {
    const { recipient } = await generateKeyPair();
    const storage = openStorage(storageDir);
    const old = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', encryptionRecipients: [recipient] });
    const newer = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', encryptionRecipients: [recipient] });
    const mine = (id: string) => readdirSync(storageDir).filter((f) => f.startsWith(id)).sort();
    expect(mine(old.id)).toEqual([`${old.id}.manifest.json`, `${old.id}.sql.gz.age`]);

    const del = await fetch(`${app.baseUrl}/api/admin/backups/${old.id}`, { method: 'DELETE', headers: { cookie, origin: app.baseUrl } });
    expect(del.status, await del.clone().text()).toBe(200);
    expect(mine(old.id)).toEqual([]);
    expect(mine(newer.id)).toHaveLength(2);
    expect((await listBackups(storage)).map((b) => `${b.id} ${b.status}`)).toEqual([`${newer.id} succeeded`]);
    await storage.close();
  }, 180_000);

  it('an archive that cannot be removed after the manifest was: 200 with a warning, the run recorded deleted (not succeeded for ever)', async () => {
    const storage = openStorage(storageDir);
    const old = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    // A non-empty directory at the .sql.gz.age key: its delete fails after the manifest's.
    mkdirSync(path.join(storageDir, encryptedArchiveKey(old.id)));
    writeFileSync(path.join(storageDir, encryptedArchiveKey(old.id), 'x'), 'x');
    const del = await fetch(`${app.baseUrl}/api/admin/backups/${old.id}`, { method: 'DELETE', headers: { cookie, origin: app.baseUrl } });
    const body = await del.json();
    expect(del.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ id: old.id, status: 'deleted', warning: expect.stringMatching(/archive could not be removed/) });
    const got = await (await fetch(`${app.baseUrl}/api/admin/backups/${old.id}`, { headers: { cookie } })).json();
    expect(got.status).toBe('deleted');
    rmSync(path.join(storageDir, encryptedArchiveKey(old.id)), { recursive: true, force: true });
    await storage.close();
  }, 180_000);
});
