import { afterAll, beforeAll, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tempStorage } from './restore-test-helpers';

/**
 * restore --mode data-only checks, before it touches anything, that no row outside the reload
 * references a row the backup does not have. A foreign key of an inheritance parent covers the
 * parent's OWN rows only (foreign keys are not inherited): the check counted the children's rows
 * too and refused a reload that PostgreSQL accepts ("1 row(s) of o.fk_parent reference rows of
 * o.ref that the backup does not have"). A partitioned table's key covers every partition.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let src: TestDatabase;
let id: string;
const S = ['o'];

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'orph' });
  dbs.push(src);
  await exec(src.url, `
    CREATE SCHEMA o;
    CREATE TABLE o.ref (id int PRIMARY KEY);
    CREATE TABLE o.fk_parent (ref_id int REFERENCES o.ref);
    CREATE TABLE o.fk_child (note text) INHERITS (o.fk_parent);
    CREATE TABLE o.fk_part (ref_id int REFERENCES o.ref) PARTITION BY RANGE (ref_id);
    CREATE TABLE o.fk_part_1 PARTITION OF o.fk_part FOR VALUES FROM (0) TO (1000);
    INSERT INTO o.ref SELECT g FROM generate_series(1, 10) g;
    INSERT INTO o.fk_parent VALUES (1), (2);
    INSERT INTO o.fk_child VALUES (999, 'not covered by the parent''s key');
    INSERT INTO o.fk_part VALUES (3);`);
  ({ storage } = await tempStorage());
  id = await backup(src.url, storage, S);
}, 120_000);

afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('a data-only reload is not refused for rows of an inheritance child, which the parent\'s foreign key does not cover', async () => {
  const t = await createTestDatabase({ prefix: 'orph' });
  dbs.push(t);
  await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'fresh' });
  await exec(t.url, `DELETE FROM o.fk_part; DELETE FROM ONLY o.fk_parent; DELETE FROM o.ref`);
  await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['o.ref'] });
  const after = await hashesOf(t.url, S);
  expect(after['o.ref'].rows).toBe(10);
  expect(after['o.fk_child'].rows).toBe(1);
}, 120_000);

it('a row of a partition referencing a row the backup lacks still refuses the reload before anything changes', async () => {
  const t = await createTestDatabase({ prefix: 'orph' });
  dbs.push(t);
  await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'fresh' });
  await exec(t.url, `INSERT INTO o.ref VALUES (500); INSERT INTO o.fk_part VALUES (500)`);
  const before = await hashesOf(t.url, S);
  await expect(restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['o.ref'] })).rejects.toThrow(/1 row\(s\) of o\.fk_part .*reference rows of o\.ref that the backup does not have/);
  expect(await hashesOf(t.url, S)).toEqual(before);
}, 120_000);
