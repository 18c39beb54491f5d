import { afterAll, beforeAll, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tempStorage } from './restore-test-helpers';

/**
 * A referenced table outside the backed-up schemas (auth.users) that already has rows in the
 * target: the plan says its backed-up rows are not loaded (and it is not compared). The atomic
 * restore does so; restore --jobs loaded and compared every manifest table anyway and failed
 * ("auth.users: 0 rows, backup has 5 — ... PARTLY restored") where the atomic restore succeeds.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let src: TestDatabase;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
const USERS = `CREATE SCHEMA auth; CREATE TABLE auth.users (id int PRIMARY KEY, email text);`;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'refbusy' });
  dbs.push(src);
  await exec(src.url, `
    ${USERS}
    INSERT INTO auth.users SELECT g, 'user' || g FROM generate_series(1, 5) g;
    CREATE SCHEMA app;
    CREATE TABLE app.profile (id int PRIMARY KEY REFERENCES auth.users, name text);
    CREATE TABLE app.note (id int PRIMARY KEY, t text);
    INSERT INTO app.profile SELECT g, 'p' || g FROM generate_series(1, 3) g;
    INSERT INTO app.note SELECT g, md5(g::text) FROM generate_series(1, 50) g;`);
  srcHashes = await hashesOf(src.url, ['app']);
  ({ storage } = await tempStorage());
  id = await backup(src.url, storage, ['app']);
}, 120_000);

afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

async function targetWithUsers(): Promise<TestDatabase> {
  const t = await createTestDatabase({ prefix: 'refbusy' });
  dbs.push(t);
  await exec(t.url, `${USERS} INSERT INTO auth.users SELECT g, 'target' || g FROM generate_series(1, 6) g;`);
  return t;
}

it('the atomic restore leaves a referenced table that has rows alone', async () => {
  const t = await targetWithUsers();
  const r = await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'fresh' });
  expect(r.tables.map((x) => `${x.schema}.${x.name}`)).not.toContain('auth.users');
  expect(await hashesOf(t.url, ['app'])).toEqual(srcHashes);
}, 60_000);

for (const checkContent of [false, true]) {
  it(`restore --jobs 2${checkContent ? ' --check-content' : ''} leaves it alone too and succeeds`, async () => {
    const t = await targetWithUsers();
    const usersBefore = (await hashesOf(t.url, ['auth']))['auth.users'];
    const r = await restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2, checkContent });
    expect(r.tables.map((x) => `${x.schema}.${x.name}`)).not.toContain('auth.users');
    expect(await hashesOf(t.url, ['app'])).toEqual(srcHashes);
    expect((await hashesOf(t.url, ['auth']))['auth.users']).toEqual(usersBefore);
  }, 60_000);
}
