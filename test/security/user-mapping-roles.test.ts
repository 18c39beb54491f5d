import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, scalar, tempStorage } from '../backup/restore-test-helpers';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { runDrill } from '../../lib/backup/drill';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { dropRoles } from './supabase-fixture';

/**
 * The role of a user mapping (CREATE USER MAPPING FOR r SERVER s) is needed by every restore, like a
 * policy's role (--no-owner / --no-privileges do not leave mappings out). It was not in the
 * manifest's roles, so the preflight let a target that lacks it through: the atomic restore failed
 * at the mapping ('role "…" does not exist', rolled back), `restore --jobs` left the target PARTLY
 * restored, and `verify --drill --create-roles` failed instead of creating it.
 */
describe('a user mapping whose role the target lacks', () => {
  const role = `h1_um_${randomBytes(4).toString('hex')}`;
  const dbs: TestDatabase[] = [];
  let storage: StorageBackend;
  let id: string;
  const fresh = async () => {
    const d = await createTestDatabase({ prefix: 'h1um' });
    dbs.push(d);
    return d;
  };
  const relations = (url: string) => scalar<number>(url, `SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace`);

  beforeAll(async () => {
    await exec(serverUrl(), `CREATE ROLE ${role} NOLOGIN`);
    const src = await fresh();
    await exec(
      src.url,
      `CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2);
       CREATE FOREIGN DATA WRAPPER h1_fdw; CREATE SERVER h1_srv FOREIGN DATA WRAPPER h1_fdw;
       CREATE USER MAPPING FOR ${role} SERVER h1_srv;`,
    );
    ({ storage } = await tempStorage());
    id = await backup(src.url, storage);
    await src.drop();
    await dropRoles([role]);
  }, 180_000);
  afterAll(async () => {
    for (const d of dbs) await d.drop().catch(() => {});
    await dropRoles([role]);
  });

  for (const opts of [{}, { noOwner: true, noPrivileges: true }]) {
    it(`restore ${JSON.stringify(opts)} and --jobs 2 refuse before touching anything, naming the role`, async () => {
      const t = await fresh();
      const refusal = { code: 'incompatible', message: expect.stringContaining(`lacks role ${role} (user mapping)`) };
      await expect(restoreBackup({ source: id, storage, targetUrl: t.url, ...opts })).rejects.toMatchObject(refusal);
      await expect(restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2, ...opts })).rejects.toMatchObject(refusal);
      expect(await relations(t.url)).toBe(0);
      expect(await scalar(t.url, `SELECT count(*)::int FROM pg_foreign_server`)).toBe(0);
    }, 120_000);
  }

  it('verify --drill --create-roles creates it and passes', async () => {
    try {
      const r = await runDrill({ storage, id, serverUrl: serverUrl(), createRoles: true });
      expect(r.error).toBeNull();
      expect(r.ok).toBe(true);
      expect(r.notes).toEqual(expect.arrayContaining([`created role ${role} (NOLOGIN, --create-roles)`]));
    } finally {
      await dropRoles([role]);
    }
  }, 180_000);
});
