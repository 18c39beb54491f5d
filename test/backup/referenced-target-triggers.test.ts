import { afterAll, beforeAll, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tempStorage } from './restore-test-helpers';

/**
 * A referenced table outside the backed-up schemas (auth.users) is loaded into the TARGET's own
 * table, with the target's triggers on it. A trigger that creates a profile per new user (the
 * Supabase pattern) fired on each backed-up user row and added rows to app.profile, which the
 * backup then loaded again: app.profile had twice its rows, the restore ok: true with every COPY
 * row count right (atomic and --jobs 2 alike). The target's user triggers are off while the
 * backed-up rows load (as in a data-only reload) and back in their own firing mode after.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
const USERS = `CREATE SCHEMA auth; CREATE TABLE auth.users (id int PRIMARY KEY, email text);`;

beforeAll(async () => {
  const src = await createTestDatabase({ prefix: 'reftrg' });
  dbs.push(src);
  await exec(src.url, `
    ${USERS}
    INSERT INTO auth.users SELECT g, 'user' || g FROM generate_series(1, 5) g;
    CREATE SCHEMA app;
    CREATE TABLE app.profile (user_id int REFERENCES auth.users, name text);
    INSERT INTO app.profile SELECT g, 'auto' FROM generate_series(1, 5) g;`);
  srcHashes = await hashesOf(src.url, ['app', 'auth']);
  ({ storage } = await tempStorage());
  id = await backup(src.url, storage, ['app']);
}, 120_000);

afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

async function targetWithTrigger(): Promise<TestDatabase> {
  const t = await createTestDatabase({ prefix: 'reftrg' });
  dbs.push(t);
  await exec(t.url, `${USERS}
    CREATE FUNCTION auth.on_user() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO app.profile VALUES (NEW.id, 'auto'); RETURN NEW; END $$;
    CREATE TRIGGER on_user AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.on_user();
    CREATE TRIGGER on_user_always AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.on_user();
    ALTER TABLE auth.users ENABLE ALWAYS TRIGGER on_user_always;`);
  return t;
}

const restores: [string, (url: string) => Promise<unknown>][] = [
  ['the atomic restore', (url) => restoreBackup({ source: id, storage, targetUrl: url, mode: 'fresh' })],
  ['restore --jobs 2', (url) => restoreParallel({ source: id, storage, targetUrl: url, jobs: 2 })],
];

for (const [name, restore] of restores) {
  it(`${name} loads auth.users without firing the target's triggers (no duplicated profiles) and keeps them`, async () => {
    const t = await targetWithTrigger();
    await restore(t.url);
    expect(await hashesOf(t.url, ['app', 'auth'])).toEqual(srcHashes);
    expect(await scalar(t.url, `SELECT string_agg(tgname || ':' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal`)).toBe('on_user:O,on_user_always:A');
    // and they still fire
    await exec(t.url, `INSERT INTO auth.users VALUES (100, 'new')`);
    expect(Number(await scalar(t.url, `SELECT count(*) FROM app.profile WHERE user_id = 100`))).toBe(2);
  }, 60_000);
}
