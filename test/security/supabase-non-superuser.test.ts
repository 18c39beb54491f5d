import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, scalar, tempStorage } from '../backup/restore-test-helpers';
import { downloadArchive, gunzipIntoPsql } from '../backup/backup-test-helpers';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createFixtureRoles, createNewProject, dropRoles, type SupabaseRoles } from './supabase-fixture';
import { securityOf } from './security-oracle';

/**
 * On Supabase the restoring role, "postgres", is NOT a superuser: the platform's objects and default
 * privileges belong to supabase_admin (here: the test server's superuser, which loads the platform),
 * pgcrypto in "extensions" too. A backup of such a project, restored into a new one as "postgres"
 * (a role with CREATEDB CREATEROLE BYPASSRLS, member of anon/authenticated/service_role and of the
 * project's owner roles), failed every time, by our restore, --jobs and gunzip | psql:
 *  - COMMENT ON EXTENSION pgcrypto: "must be owner of extension pgcrypto" (the comment the target's
 *    CREATE EXTENSION had already set to the same text);
 *  - the reset of the target's default privileges, and the backup's DEFAULT ACL of the platform role:
 *    ALTER DEFAULT PRIVILEGES FOR ROLE <platform role> — "must be member of role";
 *  - a grant made by another grantor (service_role, WITH GRANT OPTION): SET SESSION AUTHORIZATION,
 *    "permission denied to set session authorization".
 * Each now restores with the source's owners and privileges exactly (pg_dump -s).
 */
describe('restore into a Supabase-shaped project as its non-superuser "postgres"', () => {
  const tag = randomBytes(4).toString('hex');
  const pgRole = `h1_pg_${tag}`;
  const dbs: TestDatabase[] = [];
  let roles: SupabaseRoles;
  let src: TestDatabase;
  let storage: StorageBackend;
  let id: string;
  let dir: string;
  const as = (url: string) => {
    const u = new URL(url);
    u.username = pgRole;
    u.password = 'h1-nsu-pw'; // (the embedded server of a bare `npm test` asks for one)
    return u.toString();
  };
  const fresh = async () => {
    const d = await createTestDatabase({ prefix: 'h1nsu' });
    dbs.push(d);
    return d;
  };
  /** A new project (loaded by the superuser), the database owned by the non-superuser role. */
  const project = async () => {
    const d = await fresh();
    await createNewProject(d.url);
    await exec(serverUrl(), `ALTER DATABASE "${d.name}" OWNER TO ${pgRole}`);
    await exec(d.url, `GRANT ALL ON SCHEMA public, auth, extensions, storage TO ${pgRole}; GRANT CREATE ON SCHEMA public TO ${roles.owner};
                       GRANT ALL ON ALL TABLES IN SCHEMA auth TO ${pgRole}; ALTER PUBLICATION supabase_realtime OWNER TO ${pgRole}`);
    return d;
  };

  beforeAll(async () => {
    roles = await createFixtureRoles();
    await exec(serverUrl(), `CREATE ROLE ${pgRole} LOGIN PASSWORD 'h1-nsu-pw' NOSUPERUSER CREATEDB CREATEROLE BYPASSRLS; GRANT ${roles.owner}, ${roles.grantee} TO ${pgRole}`);
    src = await project();
    // (anon, authenticated and service_role are made by the platform script of the first project:
    // on a fresh cluster they do not exist before it.)
    await exec(serverUrl(), `GRANT anon, authenticated, service_role TO ${pgRole}`);
    // The project's own schema, made by "postgres" as the dashboard does.
    await promisify(execFile)('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', as(src.url), '-f', path.resolve(import.meta.dirname, '../fixtures/supabase/project.sql'), '-v', `owner=${roles.owner}`, '-v', `grantee=${roles.grantee}`], {
      env: { ...process.env, PGOPTIONS: '-c client_min_messages=error' },
    });
    await exec(as(src.url), `GRANT SELECT ON public.profiles TO service_role WITH GRANT OPTION; SET ROLE service_role; GRANT SELECT ON public.profiles TO ${roles.grantee}; RESET ROLE`);
    ({ storage } = await tempStorage());
    id = await backup(as(src.url), storage);
    dir = await mkdtemp(path.join(os.tmpdir(), 'h1-nsu-'));
  }, 180_000);
  afterAll(async () => {
    for (const d of dbs) await d.drop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
    if (roles) await dropRoles([pgRole, roles.owner, roles.grantee]);
  });

  const expectSource = async (t: TestDatabase) => {
    expect(await securityOf(t.url)).toBe(await securityOf(src.url));
    expect(await scalar(t.url, `SELECT has_table_privilege('${roles.grantee}', 'public.profiles', 'SELECT')`)).toBe(true);
    expect(await scalar(t.url, `SELECT count(*)::int FROM public.tickets`)).toBe(2);
  };

  it('our restore: succeeds, says what it left as the target has it', async () => {
    const t = await project();
    const r = await restoreBackup({ source: id, storage, targetUrl: as(t.url) });
    expect(r.plan.actions).toEqual(expect.arrayContaining([`default privileges of role postgres in schema public left as the target has them (the restoring role is not a member of postgres)`]));
    await expectSource(t);
  }, 120_000);

  it('restore --jobs 2', async () => {
    const t = await project();
    await restoreParallel({ source: id, storage, targetUrl: as(t.url), jobs: 2 });
    await expectSource(t);
  }, 120_000);

  it('gunzip | psql as the same role', async () => {
    const t = await project();
    const file = path.join(dir, `${id}.sql.gz`);
    await downloadArchive(storage, id, file);
    await gunzipIntoPsql(file, as(t.url));
    await expectSource(t);
  }, 120_000);
});
