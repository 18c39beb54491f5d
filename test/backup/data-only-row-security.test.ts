import { expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { loginRoleFixture } from '../helpers/login-role';

// A data-only reload run by a table's owner without BYPASSRLS (Supabase's and most managed
// PostgreSQL's admin role) under FORCE ROW LEVEL SECURITY: the archive's row_security = off made the
// COPY fail ("query would be affected by row-level security policy"), while a fresh or replace
// restore of the same backup by the same role works. FORCE is lifted for the reload, put back before
// COMMIT; a table of another owner whose policies apply to the role is refused by name up front.

const fx = loginRoleFixture('do_rls');
const { role, dbs } = fx;

const state = (url: string) =>
  withClient(url, async (c) => ({
    notes: (await c.query(`SELECT n::text AS r FROM public.notes n ORDER BY 1`)).rows.map((r) => r.r),
    replies: (await c.query(`SELECT r::text AS r FROM public.replies r ORDER BY 1`)).rows.map((r) => r.r),
    audit: (await c.query(`SELECT a::text AS r FROM public.audit a ORDER BY 1`)).rows.map((r) => r.r),
    rls: (await c.query(`SELECT relname || ' ' || relrowsecurity || ' ' || relforcerowsecurity AS r FROM pg_class WHERE relname IN ('notes', 'replies', 'audit') ORDER BY 1`)).rows.map((r) => r.r),
    policies: (await c.query(`SELECT tablename || ' ' || policyname || ' ' || qual AS r FROM pg_policies ORDER BY 1`)).rows.map((r) => r.r),
    fks: (await c.query(`SELECT conname || ' ' || convalidated AS r FROM pg_constraint WHERE contype = 'f' ORDER BY 1`)).rows.map((r) => r.r),
  }));

it("the owner (no BYPASSRLS) reloads its FORCE ROW LEVEL SECURITY tables data-only, rows exact and FORCE kept; another owner's table under RLS is refused by name and nothing changes", async () => {
  const db = await createTestDatabase({ prefix: 'dorls' });
  dbs.push(db);
  await exec(
    db.url,
    `CREATE ROLE ${role} LOGIN PASSWORD '${fx.password}' NOBYPASSRLS;
     GRANT ALL ON DATABASE "${db.name}" TO ${role}; GRANT ALL ON SCHEMA public TO ${role};
     CREATE TABLE public.notes (id int PRIMARY KEY, author text, body text);
     CREATE TABLE public.replies (id int PRIMARY KEY, note_id int REFERENCES public.notes (id), body text);
     INSERT INTO public.notes VALUES (1, 'abebe', 'ሰላም'), (2, 'kebede', 'hidden by the policy');
     INSERT INTO public.replies VALUES (10, 1, 'first'), (11, 2, 'second');
     ALTER TABLE public.notes OWNER TO ${role}; ALTER TABLE public.replies OWNER TO ${role};
     ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;
     ALTER TABLE public.replies ENABLE ROW LEVEL SECURITY; ALTER TABLE public.replies FORCE ROW LEVEL SECURITY;
     CREATE POLICY only_abebe ON public.notes USING (author = 'abebe');
     CREATE POLICY none ON public.replies USING (false);
     CREATE TABLE public.audit (id int, what text);
     INSERT INTO public.audit VALUES (1, 'kept');
     ALTER TABLE public.audit ENABLE ROW LEVEL SECURITY;
     CREATE POLICY audit_none ON public.audit USING (false);
     GRANT ALL ON public.audit TO ${role};`,
  );
  const { storage } = await tempStorage();
  fx.storage = storage;
  const { id } = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', schemas: ['public'] });
  const before = await state(db.url);
  expect(before.rls).toEqual(['audit true false', 'notes true true', 'replies true true']);

  const asRole = fx.as(db.url);
  await exec(db.url, `UPDATE public.notes SET body = 'changed'`);
  // notes is referenced by replies (FORCE too): the orphan check reads it as well.
  const r = await restoreBackup({ source: id, storage, targetUrl: asRole, mode: 'data-only', tables: ['public.notes'] });
  expect(r.rows).toBe(2);
  expect(await state(db.url)).toEqual(before);

  await exec(db.url, `UPDATE public.audit SET what = 'changed'`);
  const changed = await state(db.url);
  await expect(restoreBackup({ source: id, storage, targetUrl: asRole, mode: 'data-only', tables: ['public.audit'] })).rejects.toMatchObject({
    code: 'db_permission',
    message: expect.stringContaining('row-level security of public.audit applies to this role, which does not own it'),
  });
  expect(await state(db.url)).toEqual(changed);
}, 120_000);

it('--check-content re-reads FORCE ROW LEVEL SECURITY tables restored by their owner (no BYPASSRLS) in every mode; FORCE stays on', async () => {
  const db = await createTestDatabase({ prefix: 'ccrls' });
  dbs.push(db);
  await exec(
    db.url,
    `DO $$BEGIN CREATE ROLE ${role} LOGIN PASSWORD '${fx.password}' NOBYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END$$;
     ALTER DATABASE "${db.name}" OWNER TO ${role};
     CREATE TABLE public.notes (id int PRIMARY KEY, author text, body text);
     CREATE TABLE public.replies (id int PRIMARY KEY, note_id int REFERENCES public.notes (id), body text);
     CREATE TABLE public.audit (id int, what text);
     INSERT INTO public.notes VALUES (1, 'abebe', 'ሰላም'), (2, 'kebede', 'hidden by the policy');
     INSERT INTO public.replies VALUES (10, 1, 'first'), (11, 2, 'second');
     INSERT INTO public.audit VALUES (1, 'kept');
     ALTER TABLE public.notes OWNER TO ${role}; ALTER TABLE public.replies OWNER TO ${role}; ALTER TABLE public.audit OWNER TO ${role};
     ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;
     ALTER TABLE public.replies ENABLE ROW LEVEL SECURITY; ALTER TABLE public.replies FORCE ROW LEVEL SECURITY;
     ALTER TABLE public.audit ENABLE ROW LEVEL SECURITY;
     CREATE POLICY only_abebe ON public.notes USING (author = 'abebe');
     CREATE POLICY none ON public.replies USING (false);
     CREATE POLICY audit_none ON public.audit USING (false);`,
  );
  const { id } = await runBackup({ databaseUrl: db.url, storage: fx.storage!, trigger: 'cli', schemas: ['public'] });
  const before = await state(db.url);
  const fresh = async () => {
    const d = await createTestDatabase({ prefix: 'ccrlsdst' });
    dbs.push(d);
    await exec(d.url, `ALTER DATABASE "${d.name}" OWNER TO ${role}`);
    return d;
  };
  const a = await fresh();
  await restoreBackup({ source: id, storage: fx.storage!, targetUrl: fx.as(a.url), mode: 'fresh', checkContent: true });
  expect(await state(a.url)).toEqual(before);
  const b = await fresh();
  await restoreParallel({ source: id, storage: fx.storage!, targetUrl: fx.as(b.url), jobs: 2, checkContent: true });
  expect(await state(b.url)).toEqual(before);
  await exec(db.url, `UPDATE public.notes SET body = 'changed'`);
  await restoreBackup({ source: id, storage: fx.storage!, targetUrl: fx.as(db.url), mode: 'replace', checkContent: true });
  expect(await state(db.url)).toEqual(before);
  await exec(db.url, `UPDATE public.replies SET body = 'changed'`);
  await restoreBackup({ source: id, storage: fx.storage!, targetUrl: fx.as(db.url), mode: 'data-only', tables: ['public.replies'], checkContent: true });
  expect(await state(db.url)).toEqual(before);
}, 120_000);
