import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, scalar, tempStorage } from '../backup/restore-test-helpers';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createNewProject } from './supabase-fixture';

/**
 * `restore --no-privileges` skips the backup's GRANT/REVOKE (as pg_restore), so the restored objects
 * keep what the TARGET's default privileges give them — in a new Supabase project, ALL on every table
 * to anon (readable through the API unless RLS stops it). The plan said only "privileges not
 * restored"; it must say what the objects get instead, naming the grantees.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let id: string;
beforeAll(async () => {
  const src = await createTestDatabase({ prefix: 'h1nopriv' });
  dbs.push(src);
  await exec(src.url, `CREATE TABLE public.secrets (id int PRIMARY KEY, s text); INSERT INTO public.secrets VALUES (1, 'x'); REVOKE ALL ON public.secrets FROM PUBLIC`);
  ({ storage } = await tempStorage());
  id = await backup(src.url, storage);
}, 120_000);
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
});

it('--no-privileges into a new Supabase project says which grants the target default privileges give instead', async () => {
  const t = await createTestDatabase({ prefix: 'h1nopriv' });
  dbs.push(t);
  await createNewProject(t.url);
  const r = await restoreBackup({ source: id, storage, targetUrl: t.url, noPrivileges: true });
  expect(await scalar(t.url, `SELECT has_table_privilege('anon', 'public.secrets', 'SELECT')`)).toBe(true);
  expect(r.plan.actions).toEqual(
    expect.arrayContaining([expect.stringMatching(/privileges not restored \(--no-privileges\): the target's default privileges give the restored objects instead: tables: ALL to anon, authenticated, service_role/)]),
  );
}, 120_000);

it('--no-privileges into a plain database: no such line', async () => {
  const t = await createTestDatabase({ prefix: 'h1nopriv' });
  dbs.push(t);
  const r = await restoreBackup({ source: id, storage, targetUrl: t.url, noPrivileges: true });
  expect(r.plan.actions).toContain('privileges not restored (--no-privileges)');
}, 120_000);
