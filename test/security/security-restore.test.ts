import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tamperMember, tempStorage } from '../backup/restore-test-helpers';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { runDrill } from '../../lib/backup/drill';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createFixtureRoles, createNewProject, createSupabaseSource, dropRoles, type SupabaseRoles } from './supabase-fixture';
import { publicationMembers, securityOf } from './security-oracle';

/** Our restore (and drill) of a Supabase-shaped database: owners, privileges, roles and dependencies checked first. */
describe('restore of the security model', () => {
  let roles: SupabaseRoles;
  let src: TestDatabase;
  let storage: StorageBackend;
  let dir: string;
  let id: string;
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    const d = await createTestDatabase({ prefix: 'h2rs' });
    dbs.push(d);
    return d;
  };
  const publicTables = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('public.')));

  beforeAll(async () => {
    roles = await createFixtureRoles();
    src = await fresh();
    await createSupabaseSource(src.url, roles);
    ({ storage, dir } = await tempStorage());
    id = await backup(src.url, storage);
  }, 180_000);
  afterAll(async () => {
    for (const d of dbs) await d.drop().catch(() => {});
    await roles?.drop();
  });

  it('restores into a new project: identical privileges, owners, publication membership, auth.users rows, data', async () => {
    const t = await fresh();
    await createNewProject(t.url);
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    expect(await securityOf(t.url)).toBe(await securityOf(src.url));
    expect(await publicationMembers(t.url)).toEqual(['supabase_realtime public.tickets']);
    expect(await scalar(t.url, `SELECT count(*)::int FROM auth.users`)).toBe(2);
    expect(publicTables(await hashesOf(t.url))).toEqual(publicTables(await hashesOf(src.url)));
    expect(await scalar(t.url, `SELECT has_function_privilege('anon', 'public.open_ticket(text)', 'EXECUTE')`)).toBe(false);
  }, 180_000);

  it('verify --drill passes on its own server: external dependencies recreated from the manifest, schema fingerprint equal', async () => {
    const r = await runDrill({ storage, id, serverUrl: serverUrl() });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.notes).toEqual(expect.arrayContaining(['recreated function auth.uid() from the manifest', 'recreated table auth.users from the manifest']));
  }, 180_000);

  it('stops before touching anything when the target lacks auth.uid() or a grantee role, naming them', async () => {
    const t = await fresh();
    await createNewProject(t.url);
    await exec(t.url, `DROP FUNCTION auth.uid()`);
    await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({
      code: 'incompatible',
      message: expect.stringMatching(/lacks function auth\.uid\(\) used by policy "own profile" on public\.profiles.*nothing was changed/),
    });
    expect(await scalar(t.url, `SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toBe(0);
    expect(await scalar(t.url, `SELECT count(*)::int FROM auth.users`)).toBe(0);
  }, 120_000);

  it('--no-owner restores into a server that lacks the owner role; without it the restore names the missing roles', async () => {
    const own = await createFixtureRoles();
    const s2 = await fresh();
    await createSupabaseSource(s2.url, own);
    const { storage: st2 } = await tempStorage();
    const id2 = await backup(s2.url, st2);
    const expected = await securityOf(s2.url, { noOwner: true });
    await s2.drop();
    await dropRoles([own.owner, own.grantee]);
    const t = await fresh();
    await createNewProject(t.url);
    await expect(restoreBackup({ source: id2, storage: st2, targetUrl: t.url })).rejects.toMatchObject({
      code: 'incompatible',
      message: expect.stringMatching(new RegExp(`lacks role ${own.grantee} \\(grantee\\); role ${own.owner} \\(owner, default privileges\\).*--no-owner`)),
    });
    expect(await scalar(t.url, `SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toBe(0);
    // The grantee must still exist for the privileges: recreate it; the owner stays missing.
    await exec(t.url, `CREATE ROLE ${own.grantee} NOLOGIN`);
    try {
      const r = await restoreBackup({ source: id2, storage: st2, targetUrl: t.url, noOwner: true });
      expect(r.plan.actions).toEqual(expect.arrayContaining([`default privileges of role ${own.owner} in schema public left out (--no-owner, the target has no such role)`]));
      // Everything but the missing owner's own default privileges (pg_dump's comment lines dropped).
      const withoutOwnerDefaults = (s: string) => s.split('\n').filter((l) => l.trim() && !l.startsWith('--') && !l.includes(own.owner)).join('\n');
      expect(withoutOwnerDefaults(await securityOf(t.url, { noOwner: true }))).toBe(withoutOwnerDefaults(expected));
      expect(await securityOf(t.url, { noOwner: true })).toMatch(/GRANT SELECT ON TABLE public\.tickets TO|tickets \| .*h2_grantee/);
      expect(await scalar(t.url, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.tickets'::regclass`)).toBe(await scalar(t.url, 'SELECT current_user'));
    } finally {
      await dropRoles([own.grantee]);
    }
  }, 240_000);

  it('the drill fails, naming the object, on a backup whose archive lost a GRANT (checksums fixed up)', async () => {
    const id3 = await backup(src.url, storage);
    await tamperMember(dir, id3, (e) => e.kind === 'ACL' && e.name === 'public', (sql) => sql.replace(`GRANT SELECT ON TABLE public.tickets TO ${roles.grantee};\n`, ''));
    const r = await runDrill({ storage, id: id3, serverUrl: serverUrl() });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/restored schema differs from the backup: relation public\.tickets differs/);
  }, 180_000);
});
