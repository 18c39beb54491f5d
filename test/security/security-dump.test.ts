import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { downloadArchive, gunzipIntoPsql } from '../backup/backup-test-helpers';
import { backup, exec, scalar, tempStorage } from '../backup/restore-test-helpers';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createFixtureRoles, createNewProject, createSupabaseSource, dropRoles, type SupabaseRoles } from './supabase-fixture';
import { publicationMembers, securityOf } from './security-oracle';

/**
 * The archive carries the security model: owners, every kind of privilege (including revocations
 * from PUBLIC, column grants, grant options), per-schema default privileges and publication
 * membership, so `gunzip -c | psql` into a new Supabase project reproduces it exactly.
 */
describe('security model in the archive (gunzip | psql)', () => {
  let roles: SupabaseRoles;
  let src: TestDatabase;
  let storage: StorageBackend;
  let tmp: string;
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    const d = await createTestDatabase({ prefix: 'h2sec' });
    dbs.push(d);
    return d;
  };

  beforeAll(async () => {
    roles = await createFixtureRoles();
    src = await fresh();
    await createSupabaseSource(src.url, roles);
    storage = (await tempStorage()).storage;
    tmp = await mkdtemp(path.join(os.tmpdir(), 'h2-sec-'));
  }, 120_000);

  afterAll(async () => {
    for (const d of dbs) await d.drop().catch(() => {});
    await roles?.drop();
    await rm(tmp, { recursive: true, force: true });
  });

  it('a Supabase-shaped public schema comes back with identical owners, privileges, default privileges and publication membership', async () => {
    const id = await backup(src.url, storage);
    const file = path.join(tmp, `${id}.sql.gz`);
    await downloadArchive(storage, id, file);
    const target = await fresh();
    await createNewProject(target.url);
    // auth.users of the new project is empty: the backup carries the referenced users' rows.
    await gunzipIntoPsql(file, target.url);
    expect(await scalar(target.url, `SELECT string_agg(email, ',' ORDER BY email) FROM auth.users`)).toBe('abebe@example.et,tsion@example.et');
    expect(await securityOf(target.url)).toBe(await securityOf(src.url));
    expect(await securityOf(target.url, { noOwner: true })).toBe(await securityOf(src.url, { noOwner: true }));
    expect(await publicationMembers(target.url)).toEqual(['supabase_realtime public.tickets']);
    // The behaviour a user notices: anon may not call the SECURITY DEFINER function nor read profiles.
    expect(await scalar(target.url, `SELECT has_function_privilege('anon', 'public.open_ticket(text)', 'EXECUTE')`)).toBe(false);
    expect(await scalar(target.url, `SELECT has_table_privilege('anon', 'public.profiles', 'SELECT')`)).toBe(false);
    expect(await scalar(target.url, `SELECT has_column_privilege('authenticated', 'public.profiles', 'username', 'UPDATE')`)).toBe(true);
    expect(await scalar(target.url, `SELECT has_column_privilege('authenticated', 'public.profiles', 'secret_note', 'SELECT')`)).toBe(false);
    expect(await scalar(target.url, `SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'open_ticket'`)).toBe(roles.owner);
  }, 180_000);

  it('creates a missing publication and reuses an existing one', async () => {
    const id = await backup(src.url, storage);
    const file = path.join(tmp, `${id}-2.sql.gz`);
    await downloadArchive(storage, id, file);
    const target = await fresh();
    await createNewProject(target.url);
    await exec(target.url, `DROP PUBLICATION supabase_realtime`);
    await gunzipIntoPsql(file, target.url);
    expect(await publicationMembers(target.url)).toEqual(['supabase_realtime public.tickets']);
  }, 180_000);

  it('Pagila-like: ALTER SCHEMA public OWNER and GRANT ALL ON SCHEMA public TO PUBLIC come back', async () => {
    const pag = await fresh();
    const owner = `h2_pagila_${Math.random().toString(36).slice(2, 8)}`;
    try {
      await exec(pag.url, `CREATE ROLE ${owner} NOLOGIN`);
      await exec(
        pag.url,
        `ALTER SCHEMA public OWNER TO ${owner}; GRANT ALL ON SCHEMA public TO PUBLIC; COMMENT ON SCHEMA public IS 'Standard public schema';
         CREATE TABLE public.actor (actor_id serial PRIMARY KEY, first_name text NOT NULL); ALTER TABLE public.actor OWNER TO ${owner};
         INSERT INTO public.actor (first_name) VALUES ('PENELOPE'), ('NICK');`,
      );
      const id = await backup(pag.url, storage);
      const file = path.join(tmp, `${id}-pagila.sql.gz`);
      await downloadArchive(storage, id, file);
      const target = await fresh();
      await gunzipIntoPsql(file, target.url);
      expect(await securityOf(target.url)).toBe(await securityOf(pag.url));
      expect(await scalar(target.url, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'`)).toBe(owner);
      expect(await scalar(target.url, `SELECT has_schema_privilege('public', 'public', 'CREATE')`)).toBe(true);
    } finally {
      await dropRoles([owner]);
    }
  }, 180_000);
});
