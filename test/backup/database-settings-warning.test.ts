import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';

// Settings of the database itself (ALTER DATABASE … SET, ALTER ROLE … IN DATABASE … SET) are not
// schema objects: a backup does not hold them and a restore elsewhere lacks them. The backup says
// so by name, never printing a value (one may be a secret).
let withSettings: TestDatabase;
let plain: TestDatabase;
let storage: StorageBackend;
let dir: string;
const role = `dbset_${process.pid}`;

beforeAll(async () => {
  withSettings = await createTestDatabase({ prefix: 'dbset' });
  plain = await createTestDatabase({ prefix: 'dbset' });
  for (const d of [withSettings, plain]) await exec(d.url, `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1)`);
  await exec(
    serverUrl(),
    `CREATE ROLE ${role} NOLOGIN;
     ALTER DATABASE "${withSettings.name}" SET search_path = app, public;
     ALTER DATABASE "${withSettings.name}" SET app.jwt_secret = 'dbset-super-secret-value';
     ALTER ROLE ${role} IN DATABASE "${withSettings.name}" SET statement_timeout = '5s';
     ALTER ROLE ${role} SET work_mem = '8MB'`,
  );
  ({ storage, dir } = await tempStorage());
});

afterAll(async () => {
  await withSettings?.drop();
  await plain?.drop();
  await exec(serverUrl(), `DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('database-level settings', () => {
  it('the backup succeeds and names each setting of the database and of a role in it, without their values', async () => {
    const r = await runBackup({ databaseUrl: withSettings.url, storage, trigger: 'cli' });
    expect(r.status).toBe('succeeded');
    const w = (r.warnings ?? []).filter((x) => x.includes('database settings'));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain("the database's own (ALTER DATABASE … SET): app.jwt_secret, search_path");
    expect(w[0]).toContain(`role ${role} in this database (ALTER ROLE … IN DATABASE … SET): statement_timeout`);
    // A role's setting for every database is the role's, not this database's.
    expect(w[0]).not.toContain('work_mem');
    expect(JSON.stringify(r)).not.toContain('dbset-super-secret-value');
    expect(JSON.stringify(r.manifest.warnings)).toContain('app.jwt_secret');
  });

  it('a database without settings gets no such warning', async () => {
    const r = await runBackup({ databaseUrl: plain.url, storage, trigger: 'cli' });
    expect(r.status).toBe('succeeded');
    expect((r.warnings ?? []).filter((x) => x.includes('database settings'))).toEqual([]);
  });
});
