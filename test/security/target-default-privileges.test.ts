import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, scalar, tempStorage } from '../backup/restore-test-helpers';
import { downloadArchive, gunzipIntoPsql } from '../backup/backup-test-helpers';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createNewProject } from './supabase-fixture';
import { securityOf } from './security-oracle';

/**
 * A backup of a database that never granted anything (a plain PostgreSQL one, moved to Supabase),
 * restored into a target whose default privileges grant on every new object: a new Supabase
 * project (ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES / FUNCTIONS TO anon …)
 * and one hardened database-wide the other way round. Every restore path was green while:
 *  - a schema with no GRANT at all (no ACL member) kept what the target's database-wide default
 *    privileges granted on its new tables: anon could read them through the API;
 *  - a function that PUBLIC could execute in the source (NULL ACL) lost PUBLIC's EXECUTE: the
 *    reset revoked what the target's default privileges gave, the backup re-granted nothing.
 * The result must be the source's privileges exactly (pg_dump -s with owners and privileges).
 */
describe('restore into a target whose default privileges grant on new objects', () => {
  const dbs: TestDatabase[] = [];
  let src: TestDatabase;
  let storage: StorageBackend;
  let id: string;
  let dir: string;
  const schemas = ['public', 'app'];
  const fresh = async () => {
    const d = await createTestDatabase({ prefix: 'h1tdp' });
    dbs.push(d);
    return d;
  };
  const target = async () => {
    const t = await fresh();
    await createNewProject(t.url);
    // Database-wide, for the restoring role: every table it creates anywhere is anon's.
    await exec(t.url, `ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO anon; ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO anon;
                       ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO anon`);
    return t;
  };
  const expectSourcePrivileges = async (t: TestDatabase) => {
    expect(await securityOf(t.url, { schemas })).toBe(await securityOf(src.url, { schemas }));
    expect(await scalar(t.url, `SELECT has_table_privilege('anon', 'app.secrets', 'SELECT')`)).toBe(false);
    expect(await scalar(t.url, `SELECT has_table_privilege('anon', 'public.accounts', 'SELECT')`)).toBe(false);
    expect(await scalar(t.url, `SELECT has_function_privilege('authenticated', 'public.balance(integer)', 'EXECUTE')`)).toBe(true);
    expect(await scalar(t.url, `SELECT has_function_privilege('authenticated', 'app.check()', 'EXECUTE')`)).toBe(true);
  };

  beforeAll(async () => {
    src = await fresh();
    await exec(
      src.url,
      `CREATE SCHEMA app;
       CREATE TABLE app.secrets (id int PRIMARY KEY, s text); INSERT INTO app.secrets VALUES (1, 'pin 1234');
       CREATE FUNCTION app.check() RETURNS boolean LANGUAGE sql AS 'SELECT true';
       CREATE TYPE app.level AS ENUM ('low', 'high');
       CREATE TABLE public.accounts (id serial PRIMARY KEY, owner text, lvl app.level); INSERT INTO public.accounts (owner) VALUES ('abebe');
       CREATE FUNCTION public.balance(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a';
       CREATE VIEW public.v AS SELECT id FROM public.accounts;`,
    );
    let url: string;
    ({ storage, url } = await tempStorage());
    void url;
    id = await backup(src.url, storage, schemas);
    dir = await mkdtemp(path.join(os.tmpdir(), 'h1-tdp-'));
  }, 180_000);
  afterAll(async () => {
    for (const d of dbs) await d.drop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('our restore', async () => {
    const t = await target();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await expectSourcePrivileges(t);
  }, 120_000);

  it('restore --jobs 2', async () => {
    const t = await target();
    await restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2 });
    await expectSourcePrivileges(t);
  }, 120_000);

  it('gunzip | psql', async () => {
    const t = await target();
    const file = path.join(dir, `${id}.sql.gz`);
    await downloadArchive(storage, id, file);
    await gunzipIntoPsql(file, t.url);
    await expectSourcePrivileges(t);
  }, 120_000);
});
