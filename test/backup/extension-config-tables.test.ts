import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';

/**
 * An extension's configuration table (pg_extension_config_dump): CREATE EXTENSION recreates it
 * with the extension's own rows; the rows matching its condition are the user's, which pg_dump
 * carries and this dumper does not. No contrib extension has one, so the state is made the way
 * an extension script leaves it: a member table listed in pg_extension.extconfig with a condition.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

async function sourceWithConfigTable(): Promise<TestDatabase> {
  const db = await createTestDatabase({ prefix: 'extcfg' });
  cleanup.push(() => db.drop());
  await withClient(db.url, async (c) => {
    await c.query(`CREATE EXTENSION citext WITH SCHEMA public`);
    await c.query(`CREATE TABLE public.ext_settings (id int, v text)`);
    await c.query(`ALTER EXTENSION citext ADD TABLE public.ext_settings`);
    await c.query(`UPDATE pg_catalog.pg_extension SET extconfig = ARRAY['public.ext_settings'::regclass::oid], extcondition = ARRAY['WHERE id > 100'] WHERE extname = 'citext'`);
    // The extension's own row (what its script would insert): not the user's.
    await c.query(`INSERT INTO public.ext_settings VALUES (1, 'shipped with the extension')`);
    await c.query(`CREATE TABLE public.people (name citext PRIMARY KEY); INSERT INTO public.people VALUES ('Abebe')`);
  });
  return db;
}

it("backs up a database whose extension's configuration table holds only the extension's own rows", async () => {
  const src = await sourceWithConfigTable();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extcfg-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = openStorage(dir);
  cleanup.push(() => storage.close());
  const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
  expect(r.status).toBe('succeeded');
  expect((await storage.list()).length).toBeGreaterThan(0);
});

it("fails the backup naming the configuration table and its extension when it holds rows of the user's (CREATE EXTENSION would not bring them back), and stores nothing", async () => {
  const src = await sourceWithConfigTable();
  await withClient(src.url, (c) => c.query(`INSERT INTO public.ext_settings VALUES (101, 'added by the user')`));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extcfg-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = openStorage(dir);
  cleanup.push(() => storage.close());
  await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] })).rejects.toMatchObject({
    code: 'incompatible',
    message: expect.stringContaining('configuration table public.ext_settings of extension citext (it holds rows of your own'),
  });
  expect(await storage.list()).toEqual([]);
});

it('fails the backup naming a configuration sequence of an extension once it has been used (CREATE EXTENSION would start it over); an unused one backs up', async () => {
  const src = await sourceWithConfigTable();
  await withClient(src.url, async (c) => {
    await c.query(`CREATE SEQUENCE public.ext_settings_id_seq`);
    await c.query(`ALTER EXTENSION citext ADD SEQUENCE public.ext_settings_id_seq`);
    await c.query(`UPDATE pg_catalog.pg_extension SET extconfig = extconfig || 'public.ext_settings_id_seq'::regclass::oid, extcondition = extcondition || ''::text WHERE extname = 'citext'`);
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extcfg-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = openStorage(dir);
  cleanup.push(() => storage.close());
  expect((await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] })).status).toBe('succeeded');
  const before = (await storage.list()).length;
  await withClient(src.url, (c) => c.query(`SELECT nextval('public.ext_settings_id_seq')`));
  await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] })).rejects.toMatchObject({
    code: 'incompatible',
    message: expect.stringContaining('configuration sequence public.ext_settings_id_seq of extension citext (it has been used'),
  });
  expect((await storage.list()).length).toBe(before);
});
