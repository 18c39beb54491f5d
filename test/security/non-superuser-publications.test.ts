import { expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import { exec, tempStorage } from '../backup/restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { readManifest } from '../../lib/backup/list-backups';
import { loginRoleFixture } from '../helpers/login-role';

// CREATE PUBLICATION ... FOR ALL TABLES and ALTER PUBLICATION ... ADD TABLES IN SCHEMA take a
// superuser (PostgreSQL 15-17). A restore by another role (Supabase's admin role, a managed
// database's owner) of a backup holding such a publication loaded every table and failed at that
// statement at the end (atomic: rolled back; --jobs: a partly restored database). It now says so
// before anything is touched, naming them; a publication the target already has is reused and
// needs nothing.

const fx = loginRoleFixture('nsp');
const { role, dbs } = fx;

const pubs = (url: string) =>
  withClient(url, async (c) =>
    (
      await c.query<{ p: string }>(
        `SELECT p.pubname || ':' || p.puballtables || ':' || coalesce((SELECT string_agg(n.nspname, ',') FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid), '') ||
                ':' || coalesce((SELECT string_agg(r.prrelid::regclass::text, ',') FROM pg_publication_rel r WHERE r.prpubid = p.oid), '') AS p
           FROM pg_publication p ORDER BY 1`,
      )
    ).rows.map((r) => r.p),
  );

it('a restore by a role without superuser rights of a backup with FOR ALL TABLES / TABLES IN SCHEMA publications is refused up front, naming them; nothing is changed; one the target already has is reused', async () => {
  const src = await createTestDatabase({ prefix: 'nspsrc' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE TABLE public.trips (id int PRIMARY KEY, dest text); INSERT INTO public.trips VALUES (1, 'Adama'), (2, 'Hawassa');
     CREATE PUBLICATION "nsp all" FOR ALL TABLES;
     CREATE PUBLICATION nsp_schema FOR TABLES IN SCHEMA public;
     CREATE PUBLICATION nsp_table FOR TABLE public.trips;`,
  );
  const { storage } = await tempStorage();
  fx.storage = storage;
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
  const manifest = await readManifest(storage, id);
  expect(manifest.publications).toEqual([
    { name: 'nsp all', allTables: true, schemas: [] },
    { name: 'nsp_schema', allTables: false, schemas: ['public'] },
  ]);

  const dst = await createTestDatabase({ prefix: 'nspdst' });
  dbs.push(dst);
  await exec(dst.url, `CREATE ROLE ${role} LOGIN PASSWORD '${fx.password}' NOSUPERUSER; ALTER DATABASE "${dst.name}" OWNER TO ${role}`);
  const refused = /lacks the superuser rights that creating publication nsp all FOR ALL TABLES, publication nsp_schema FOR TABLES IN SCHEMA public takes \(restore as a superuser\): nothing was changed$/;
  await expect(restoreBackup({ source: id, storage, targetUrl: fx.as(dst.url), mode: 'fresh', noOwner: true })).rejects.toMatchObject({ code: 'incompatible', message: expect.stringMatching(refused) });
  await expect(restoreParallel({ source: id, storage, targetUrl: fx.as(dst.url), jobs: 2, noOwner: true })).rejects.toMatchObject({ code: 'incompatible', message: expect.stringMatching(refused) });
  expect(await withClient(dst.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).rows[0].n)).toBe(0);
  expect(await pubs(dst.url)).toEqual([]);

  // The target has both publications already (a superuser made them): the same role restores the
  // backup, reusing them, and creates the one that takes no superuser.
  await exec(dst.url, `CREATE PUBLICATION "nsp all" FOR ALL TABLES; CREATE PUBLICATION nsp_schema FOR TABLES IN SCHEMA public`);
  const r = await restoreBackup({ source: id, storage, targetUrl: fx.as(dst.url), mode: 'fresh', noOwner: true });
  expect(r.rows).toBe(2);
  expect(await pubs(dst.url)).toEqual(['nsp all:true::', 'nsp_schema:false:public:', 'nsp_table:false::trips']);
}, 120_000);
