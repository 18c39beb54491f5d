import { afterAll, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tempStorage } from './restore-test-helpers';

/**
 * restore --into-schema of a table whose CHECK (or index) passes the whole row to a function taking
 * the table's row type: the copy has a row type of its own, so `chk(t.*)` resolves to no function
 * there, and the whole copy failed ("function s.chk(side.t) does not exist", rolled back). Such a
 * CHECK or index is now left off the copy with a warning naming it; every other constraint, index
 * and the rows are there, and the live table is untouched.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('a CHECK and an index over the live row type are left off the copy, named in warnings; the rest of the copy and its rows are the backup\'s', async () => {
  const db = await createTestDatabase({ prefix: 'isrt' });
  dbs.push(db);
  await exec(db.url, `
    CREATE SCHEMA "s q";
    CREATE TABLE "s q".t (id int PRIMARY KEY, v int CONSTRAINT v_pos CHECK (v > 0), w text);
    CREATE FUNCTION "s q".chk(r "s q".t) RETURNS boolean LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT r.v < 1000; END;
    CREATE FUNCTION "s q".weight(r "s q".t) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT r.v * 2 $$;
    ALTER TABLE "s q".t ADD CONSTRAINT "row ok" CHECK ("s q".chk(t.*));
    CREATE INDEX t_weight ON "s q".t ("s q".weight(t.*));
    CREATE INDEX t_w ON "s q".t (w);
    INSERT INTO "s q".t VALUES (1, 5, 'a'), (2, 7, NULL);`);
  ({ storage } = await tempStorage());
  const id = await backup(db.url, storage, ['s q']);
  const live = await hashesOf(db.url, ['s q']);
  const r = await restoreBackup({ source: id, storage, targetUrl: db.url, intoSchema: 'side', tables: ['"s q".t'] });
  expect(r.committed).toBe(true);
  expect(r.warnings).toEqual([
    expect.stringMatching(/^CHECK constraint "row ok" of "s q"\.t not created on its copy side\.t: .*function "?s q"?\.chk\(side\.t\) does not exist/),
    expect.stringMatching(/^index t_weight of "s q"\.t not created on its copy side\.t: .*function "?s q"?\.weight\(side\.t\) does not exist/),
  ]);
  // The copy: its rows, its primary key, its other CHECK and index.
  expect(live['s q.t'].rows).toBe(2);
  expect((await hashesOf(db.url, ['side']))['side.t']).toEqual(live['s q.t']);
  expect(await scalar<string>(db.url, `SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'side.t'::regclass`)).toBe('t_pkey,v_pos');
  expect(await scalar<string>(db.url, `SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'side.t'::regclass`)).toBe('t_pkey,t_w');
  // The live table keeps both.
  expect(await scalar<number>(db.url, `SELECT count(*)::int FROM pg_constraint WHERE conrelid = '"s q".t'::regclass AND conname = 'row ok'`)).toBe(1);
  expect(await hashesOf(db.url, ['s q'])).toEqual(live);
}, 120_000);
