import { expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import { exec, tempStorage } from '../backup/restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { loginRoleFixture } from '../helpers/login-role';

// Only a superuser may create event triggers, foreign-data wrappers, access methods and text search
// parsers/templates. A restore by another role (Supabase's admin role, most managed PostgreSQL) of a
// backup holding one loaded every table and then failed at that statement, rolled back; it now says
// so before anything is loaded, naming them.

const fx = loginRoleFixture('nsk');
const { role, dbs } = fx;

it('a restore by a role without superuser rights of a backup with an event trigger and a foreign-data wrapper is refused up front, naming them; nothing is changed', async () => {
  const src = await createTestDatabase({ prefix: 'nsksrc' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE TABLE public.trips (id int PRIMARY KEY, dest text); INSERT INTO public.trips VALUES (1, 'Adama');
     CREATE FUNCTION public.ddl_note() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN RAISE NOTICE 'ddl'; END$$;
     CREATE EVENT TRIGGER nsk_note ON ddl_command_end EXECUTE FUNCTION public.ddl_note();
     CREATE FOREIGN DATA WRAPPER nsk_fdw;`,
  );
  const { storage } = await tempStorage();
  fx.storage = storage;
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
  await exec(src.url, `DROP EVENT TRIGGER nsk_note; DROP FOREIGN DATA WRAPPER nsk_fdw`);

  const dst = await createTestDatabase({ prefix: 'nskdst' });
  dbs.push(dst);
  await exec(dst.url, `CREATE ROLE ${role} LOGIN PASSWORD '${fx.password}' NOSUPERUSER; ALTER DATABASE "${dst.name}" OWNER TO ${role}`);
  await expect(restoreBackup({ source: id, storage, targetUrl: fx.as(dst.url), mode: 'fresh', noOwner: true })).rejects.toMatchObject({
    code: 'incompatible',
    message: expect.stringMatching(/lacks the superuser rights that creating (event trigger nsk_note, foreign data wrapper nsk_fdw|foreign data wrapper nsk_fdw, event trigger nsk_note) takes \(restore as a superuser\): nothing was changed$/),
  });
  expect(await withClient(dst.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).rows[0].n)).toBe(0);
  // A superuser restores it.
  await restoreBackup({ source: id, storage, targetUrl: dst.url, mode: 'fresh' });
  expect(await withClient(dst.url, async (c) => (await c.query(`SELECT (SELECT count(*) FROM pg_event_trigger WHERE evtname = 'nsk_note')::int + (SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'nsk_fdw')::int AS n`)).rows[0].n)).toBe(2);
}, 120_000);
