import { expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { loginRoleFixture } from '../helpers/login-role';

// An extension used by the backup but installed in a schema outside it (citext in "xt"): the restore
// creates that schema when the target lacks it. A bare CREATE SCHEMA lost its owner, its comment and
// `GRANT USAGE ... TO PUBLIC` (every other role then failed on xt.citext) with a green drill. Now the
// schema is created as the source has it; one the target already has is left alone; a restoring
// role that may not give it to its owner creates it as its own and is told so.

const fx = loginRoleFixture('xts');
const { role, dbs } = fx;

const schemaOf = (url: string) =>
  withClient(url, async (c) => (await c.query(`SELECT pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl, obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = 'xt'`)).rows[0] ?? null);

it('creates an extension schema outside the backup with its owner, privileges and comment; leaves one the target has alone; warns when the restoring role may not give it to its owner', async () => {
  const src = await createTestDatabase({ prefix: 'xtsrc' });
  dbs.push(src);
  await exec(
    src.url,
    `DO $$BEGIN CREATE ROLE nho6_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$;
     DO $$BEGIN CREATE ROLE nho6_lead NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$;
     CREATE SCHEMA xt AUTHORIZATION nho6_owner;
     COMMENT ON SCHEMA xt IS 'የቅጥያዎች ቦታ';
     GRANT USAGE ON SCHEMA xt TO PUBLIC;
     GRANT USAGE ON SCHEMA xt TO nho6_lead WITH GRANT OPTION;
     CREATE EXTENSION citext SCHEMA xt;
     CREATE TABLE public.people (id int PRIMARY KEY, email xt.citext NOT NULL);
     INSERT INTO public.people VALUES (1, 'Abebe@Example.com');`,
  );
  const source = await schemaOf(src.url);
  expect(source.acl).toContain('=U/nho6_owner');
  const { storage } = await tempStorage();
  fx.storage = storage;
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });

  // A superuser's restore, atomic and --jobs 2: the schema as the source has it.
  for (const restore of ['atomic', 'jobs'] as const) {
    const dst = await createTestDatabase({ prefix: 'xtdst' });
    dbs.push(dst);
    const r = restore === 'atomic' ? await restoreBackup({ source: id, storage, targetUrl: dst.url, mode: 'fresh' }) : await restoreParallel({ source: id, storage, targetUrl: dst.url, jobs: 2 });
    expect(await schemaOf(dst.url), restore).toEqual(source);
    expect(r.warnings, restore).toEqual([]);
  }

  // A target that already has the schema (its own owner, ACL and no comment): left as it is.
  const had = await createTestDatabase({ prefix: 'xthad' });
  dbs.push(had);
  await exec(had.url, `CREATE SCHEMA xt; REVOKE ALL ON SCHEMA xt FROM PUBLIC`);
  const before = await schemaOf(had.url);
  await restoreBackup({ source: id, storage, targetUrl: had.url, mode: 'fresh' });
  expect(await schemaOf(had.url)).toEqual(before);
  expect(await withClient(had.url, async (c) => (await c.query(`SELECT email OPERATOR(xt.=) 'abebe@example.COM'::xt.citext AS same FROM public.people`)).rows[0].same)).toBe(true);

  // A restoring role that is not a member of nho6_owner: the schema becomes its own, without the
  // source's grants, and the restore says so (the same WARNING psql prints for gunzip | psql).
  const mine = await createTestDatabase({ prefix: 'xtmine' });
  dbs.push(mine);
  await exec(mine.url, `CREATE ROLE ${role} LOGIN PASSWORD '${fx.password}' NOSUPERUSER; ALTER DATABASE "${mine.name}" OWNER TO ${role}`);
  const r = await restoreBackup({ source: id, storage, targetUrl: fx.as(mine.url), mode: 'fresh', noOwner: true });
  expect(r.warnings).toEqual([
    'schema xt (of extension citext) created without its owner nho6_owner: a role it names does not exist here, or the restoring role is not a member of it',
    'schema xt (of extension citext) created without its privileges: a role it names does not exist here, or the restoring role is not a member of it',
  ]);
  expect(await schemaOf(mine.url)).toEqual({ owner: role, acl: null, comment: source.comment });
}, 180_000);
