import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';

/**
 * Security labels (SECURITY LABEL FOR provider ON ...) are not reproduced: restoring one needs
 * the provider's module loaded in the target, which a schema backup cannot check or provide. A
 * label on a backed-up object fails the backup naming it; before, it vanished silently. (No label
 * provider is loaded on the test servers, so the label is written into pg_seclabel directly, as
 * a provider would have stored it.)
 */
const dbs: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('a security label on a backed-up object fails the backup by name; one on an object of another schema does not', async () => {
  const src = await createTestDatabase({ prefix: 'seclabel' });
  dbs.push(src);
  await withClient(src.url, (c) =>
    c.query(`CREATE SCHEMA other; CREATE TABLE other.t (id int); CREATE TABLE public."la bel" (id int);
      SET allow_system_table_mods = on;
      INSERT INTO pg_catalog.pg_seclabel VALUES ('other.t'::regclass, 'pg_class'::regclass, 0, 'dummy', 'secret');`),
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'seclabel-'));
  dirs.push(dir);
  const storage = openStorage(path.join(dir, 'store'));
  try {
    await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] })).resolves.toMatchObject({ status: 'succeeded' });
    await withClient(src.url, (c) =>
      c.query(`SET allow_system_table_mods = on;
        INSERT INTO pg_catalog.pg_seclabel VALUES ('public."la bel"'::regclass, 'pg_class'::regclass, 1, 'dummy', 'top secret');`),
    );
    const before = await storage.list();
    await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] })).rejects.toMatchObject({
      code: 'incompatible',
      message: expect.stringContaining('security label (provider dummy) on column id of table public."la bel"'),
    });
    expect(await storage.list()).toEqual(before);
  } finally {
    await storage.close();
  }
});
