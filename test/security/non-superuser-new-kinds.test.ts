import { expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import { exec, tempStorage } from '../backup/restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { loginRoleFixture } from '../helpers/login-role';

// What the backup writes since 2026-12-04 — DEPENDS ON EXTENSION marks (trusted extensions) and
// CHECKs calling a function that reads another table, added after the data — restored by a role
// without superuser rights that owns the target database (Supabase's admin role, managed
// PostgreSQL), atomic and --jobs.

const fx = loginRoleFixture('nsn');
const { role, dbs } = fx;

it('a role without superuser rights restores DEPENDS ON EXTENSION marks and CHECKs that read other tables, atomic and --jobs 2', async () => {
  const src = await createTestDatabase({ prefix: 'nsnsrc' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE EXTENSION IF NOT EXISTS citext;
     CREATE TABLE public.z_trips (id int PRIMARY KEY);
     CREATE FUNCTION public.trip_exists(t int) RETURNS boolean LANGUAGE plpgsql STABLE AS $$BEGIN RETURN EXISTS (SELECT 1 FROM public.z_trips WHERE id = t); END$$;
     CREATE TABLE public.a_seats (id int PRIMARY KEY, trip int CONSTRAINT trip_known CHECK (public.trip_exists(trip)));
     INSERT INTO public.z_trips VALUES (1), (2); INSERT INTO public.a_seats VALUES (1, 1), (2, 2);
     CREATE FUNCTION public.norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;
     ALTER FUNCTION public.norm(text) DEPENDS ON EXTENSION citext;`,
  );
  const { storage } = await tempStorage();
  fx.storage = storage;
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
  const marks = `SELECT count(*)::int AS n FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid WHERE d.deptype = 'x' AND p.proname = 'norm'`;
  for (const jobs of [0, 2]) {
    const dst = await createTestDatabase({ prefix: 'nsndst' });
    dbs.push(dst);
    await exec(dst.url, `DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN PASSWORD '${fx.password}' NOSUPERUSER; END IF; END$$; ALTER DATABASE "${dst.name}" OWNER TO ${role}`);
    if (jobs) await restoreParallel({ source: id, storage, targetUrl: fx.as(dst.url), jobs, noOwner: true });
    else await restoreBackup({ source: id, storage, targetUrl: fx.as(dst.url), mode: 'fresh', noOwner: true });
    const got = await withClient(dst.url, async (c) => ({
      marks: (await c.query(marks)).rows[0].n,
      seats: (await c.query(`SELECT string_agg(id || ':' || trip, ',' ORDER BY id) AS s FROM public.a_seats`)).rows[0].s,
      check: (await c.query(`SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'trip_known'`)).rows[0]?.d,
    }));
    expect(got, `jobs ${jobs}`).toEqual({ marks: 1, seats: '1:1,2:2', check: expect.stringMatching(/^CHECK \((public\.)?trip_exists\(trip\)\)$/) });
  }
}, 120_000);
