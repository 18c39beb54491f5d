import { afterAll, beforeAll, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tempStorage } from './restore-test-helpers';

/**
 * Inheritance parents loaded beside their children. `TRUNCATE ONLY a, b` applies ONLY to `a`
 * alone: `b` is truncated WITH its descendants. So
 *  - restore --jobs 2: a batch of small tables whose TRUNCATE named an inheritance parent after
 *    another table emptied the parent's child, already loaded (and checked) on the other
 *    connection: the restore reported every row count and content hash right, ok: true, and the
 *    child was empty (seen with a kitchen-sink-like schema, every run);
 *  - restore --mode data-only --tables a,parent: the child, which was not chosen, lost its rows.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let src: TestDatabase;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
const S = ['inh'];

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'inh' });
  dbs.push(src);
  // Two whole tables load first, one per connection: a big one and the child (smaller, so done
  // first); the connection that loaded the child then takes the batch of small tables, which
  // names the parent after a bigger small table.
  await exec(src.url, `
    CREATE SCHEMA inh;
    CREATE TABLE inh.big (id int, t text);
    CREATE TABLE inh.a_other (id int PRIMARY KEY, t text);
    CREATE TABLE inh.b_other (id int PRIMARY KEY);
    CREATE TABLE inh.p_parent (id int, t text);
    CREATE TABLE inh.z_child (extra text) INHERITS (inh.p_parent);
    CREATE TABLE inh.q_parent2 (k int);
    CREATE TABLE inh.q_child2 () INHERITS (inh.q_parent2);
    INSERT INTO inh.big SELECT g, md5(g::text) || md5((-g)::text) FROM generate_series(1, 150000) g;
    INSERT INTO inh.a_other SELECT g, md5(g::text) FROM generate_series(1, 200) g;
    INSERT INTO inh.b_other SELECT g FROM generate_series(1, 3) g;
    INSERT INTO inh.p_parent SELECT g, 'parent row ' || g FROM generate_series(1, 20) g;
    INSERT INTO inh.z_child SELECT g, md5(g::text) || md5((g + 1)::text), 'x' FROM generate_series(1, 15000) g;
    INSERT INTO inh.q_parent2 VALUES (1), (2);
    INSERT INTO inh.q_child2 VALUES (3);`);
  srcHashes = await hashesOf(src.url, S);
  ({ storage } = await tempStorage());
  id = await backup(src.url, storage, S);
}, 120_000);

afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('restore --jobs 2 keeps every inheritance child\'s rows (a batch TRUNCATE names each table ONLY)', async () => {
  for (let i = 0; i < 3; i++) {
    const t = await createTestDatabase({ prefix: 'inh' });
    dbs.push(t);
    const r = await restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2 });
    expect(r.tables.find((x) => x.name === 'z_child')?.rows).toBe(15000);
    expect(await hashesOf(t.url, S), `run ${i + 1}`).toEqual(srcHashes);
  }
}, 240_000);

it('restore --mode data-only of a parent (named after another table) leaves its child alone', async () => {
  const t = await createTestDatabase({ prefix: 'inh' });
  dbs.push(t);
  await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'fresh' });
  await exec(t.url, `DELETE FROM ONLY inh.p_parent; DELETE FROM inh.a_other WHERE id > 100; INSERT INTO inh.z_child VALUES (0, 'new child row', 'y')`);
  const childBefore = (await hashesOf(t.url, S))['inh.z_child'];
  await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['inh.a_other', 'inh.p_parent', 'inh.q_parent2'] });
  const after = await hashesOf(t.url, S);
  expect(after['inh.z_child']).toEqual(childBefore);
  expect(after['inh.q_child2']).toEqual(srcHashes['inh.q_child2']);
  expect(after['inh.p_parent']).toEqual(srcHashes['inh.p_parent']);
  expect(after['inh.a_other']).toEqual(srcHashes['inh.a_other']);
}, 120_000);
