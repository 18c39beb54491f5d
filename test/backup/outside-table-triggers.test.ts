import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, withClient, type TestDatabase } from '../helpers/db';
import { downloadArchive, gunzipIntoPsql } from './backup-test-helpers';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * Supabase's most common pattern: a trigger on auth.users (a schema the backup does not hold) that
 * calls public.handle_new_user() to fill public.profiles. It belongs to the app: before, every
 * backup of public lost it silently, and after a restore new sign-ups got no profile.
 */
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let id: string;

const AUTH = `CREATE SCHEMA auth;
  CREATE TABLE auth.users (id int PRIMARY KEY, email text);
  CREATE TABLE auth.audit (n int);
  CREATE FUNCTION auth.own_audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
  CREATE TRIGGER auth_own AFTER UPDATE ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.own_audit();`;

/** The user triggers of auth.users: name, enabled state and definition. */
const triggersOf = (url: string) =>
  withClient(url, async (c) => (await c.query(`SELECT tgname || ' ' || tgenabled::text || ' ' || pg_get_triggerdef(oid) AS t FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal ORDER BY tgname`)).rows.map((r) => r.t));

/** A sign-up after the restore gets its profile (the trigger works, calling the restored function). */
async function signUpMakesProfile(url: string): Promise<void> {
  await exec(url, `INSERT INTO auth.users VALUES (99, 'new@example.com')`);
  expect(await withClient(url, async (c) => (await c.query(`SELECT email FROM public.profiles WHERE id = 99`)).rows)).toEqual([{ email: 'new@example.com' }]);
}

async function target(withAuth = true): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'authtrg' });
  dbs.push(d);
  if (withAuth) await exec(d.url, AUTH);
  return d;
}

beforeAll(async () => {
  src = await target();
  await exec(
    src.url,
    `CREATE TABLE public.profiles (id int PRIMARY KEY, email text);
     CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
       BEGIN INSERT INTO public.profiles (id, email) VALUES (NEW.id, NEW.email); RETURN NEW; END $$;
     CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
     CREATE FUNCTION public.check_user() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
     CREATE CONSTRAINT TRIGGER "Check user" AFTER INSERT ON auth.users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.check_user();
     ALTER TABLE auth.users ENABLE ALWAYS TRIGGER "Check user";
     INSERT INTO auth.users VALUES (1, 'a@example.com');`,
  );
  ({ storage } = await tempStorage());
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] })).id;
}, 120_000);
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('fresh restore into a project that has auth.users (atomic, --jobs 2, gunzip | psql): the triggers calling backed-up functions come back as they were, the auth schema\'s own trigger is left alone, and a sign-up gets its profile', async () => {
  const expected = await triggersOf(src.url);
  expect(expected).toHaveLength(3); // the fixture holds what it is about: ours (2) and auth's own
  for (const load of [
    (url: string) => restoreBackup({ source: id, storage, targetUrl: url, mode: 'fresh' }),
    (url: string) => restoreParallel({ source: id, storage, targetUrl: url, jobs: 2 }),
    async (url: string) => {
      // (not into the storage's own folder: the download would overwrite the stored archive)
      const own = await mkdtemp(path.join(os.tmpdir(), 'authtrg-dl-'));
      try {
        await downloadArchive(storage, id, path.join(own, 'archive.sql.gz'));
        await gunzipIntoPsql(path.join(own, 'archive.sql.gz'), url);
      } finally {
        await rm(own, { recursive: true, force: true });
      }
    },
  ]) {
    const t = await target();
    await load(t.url);
    expect(await triggersOf(t.url)).toEqual(expected);
    await signUpMakesProfile(t.url);
  }
}, 300_000);

it('replace over the live database needs no --cascade for the triggers the backup recreates, and they are there after', async () => {
  const before = await triggersOf(src.url);
  await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'replace' });
  expect(await triggersOf(src.url)).toEqual(before);
  await signUpMakesProfile(src.url);
}, 120_000);

it('a target without auth.users is refused before anything is changed, naming the table', async () => {
  const t = await target(false);
  await expect(restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'fresh' })).rejects.toThrow(/auth\.users/);
  expect(await withClient(t.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).rows[0].n)).toBe(0);
}, 120_000);

it('the drill passes (its scratch database gets auth.users from the backup\'s recorded dependencies)', async () => {
  const d = await runDrill({ storage, id, serverUrl: serverUrl() });
  expect(d.error).toBeNull();
  expect(d.ok).toBe(true);
}, 120_000);

it('objects outside that depend on the backed-up schemas and are NOT in the backup (a view over a backed-up table, a policy calling a backed-up function) are named in the backup\'s warnings; the triggers it holds are not', async () => {
  await exec(
    src.url,
    `CREATE SCHEMA api; CREATE VIEW api.profiles AS SELECT id, email FROM public.profiles;
     CREATE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql AS 'SELECT true';
     CREATE POLICY admins ON auth.users USING (public.is_admin());`,
  );
  try {
    const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
    const notIn = (r.warnings ?? []).filter((w) => w.startsWith('not in this backup: '));
    expect(notIn).toEqual([
      'not in this backup: policy admins on table auth.users (depends on function public.is_admin()), outside the backed-up schemas; a restore into a new database lacks it, and a replace drops it (--cascade)',
      'not in this backup: view api.profiles (depends on table public.profiles), outside the backed-up schemas; a restore into a new database lacks it, and a replace drops it (--cascade)',
    ]);
  } finally {
    await exec(src.url, `DROP SCHEMA api CASCADE; DROP POLICY admins ON auth.users; DROP FUNCTION public.is_admin()`);
  }
}, 120_000);

it('replace of a schema whose name needs quoting still sees the objects outside that depend on it (it dropped them silently), and the backup names them', async () => {
  const q = await target(false);
  await exec(q.url, `CREATE SCHEMA "ትኬት.ሃብ"; CREATE TABLE "ትኬት.ሃብ".t (a int); INSERT INTO "ትኬት.ሃብ".t VALUES (1); CREATE VIEW public.v AS SELECT a FROM "ትኬት.ሃብ".t;`);
  const r = await runBackup({ databaseUrl: q.url, storage, trigger: 'cli', schemas: ['ትኬት.ሃብ'] });
  expect(r.warnings ?? []).toContain('not in this backup: view public.v (depends on table "ትኬት.ሃብ".t), outside the backed-up schemas; a restore into a new database lacks it, and a replace drops it (--cascade)');
  await expect(restoreBackup({ source: r.id, storage, targetUrl: q.url, mode: 'replace' })).rejects.toThrow(/view public\.v \(depends on table "ትኬት\.ሃብ"\.t\); pass --cascade/);
  expect(await withClient(q.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_views WHERE schemaname = 'public' AND viewname = 'v'`)).rows[0].n)).toBe(1);
}, 120_000);
