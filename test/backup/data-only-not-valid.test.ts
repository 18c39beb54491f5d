import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// NOT VALID is how a rule is added for new rows only: the legacy rows break it. A data-only reload
// of such a table failed ("violates check constraint", rolled back): COPY checks every constraint,
// validated or not. The reload now sets those constraints aside (a table's own CHECK, a domain's
// CHECK used by its columns, through arrays) and adds them back NOT VALID, named and commented as
// before; --into-schema copies do the same for the live domains their columns use. And a foreign
// key the reload drops and re-adds keeps its comment (it lost it).

const dbs: TestDatabase[] = [];
let storage: StorageBackend | undefined;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

const constraints = (url: string) =>
  withClient(url, async (c) =>
    (
      await c.query(`SELECT coalesce(conrelid::regclass::text, contypid::regtype::text) AS on, conname, convalidated, pg_get_constraintdef(oid) AS def, obj_description(oid, 'pg_constraint') AS comment
                       FROM pg_constraint WHERE connamespace = 'nv'::regnamespace ORDER BY 1, 2`)
    ).rows,
  );
const rows = (url: string) => withClient(url, async (c) => (await c.query(`SELECT f.id, f.price, f.codes::text, f.trip FROM nv.fares f ORDER BY 1`)).rows);

it('data-only reload of rows that break NOT VALID constraints of the table and of a domain it uses: reloaded, the constraints back NOT VALID with their names and comments; foreign keys keep their comments', async () => {
  const db = await createTestDatabase({ prefix: 'nvd' });
  dbs.push(db);
  await exec(
    db.url,
    `CREATE SCHEMA nv;
     CREATE DOMAIN nv.code AS text;
     CREATE TABLE nv.trips (id int PRIMARY KEY);
     INSERT INTO nv.trips VALUES (1), (2);
     CREATE TABLE nv.fares (id int PRIMARY KEY, price numeric NOT NULL, codes nv.code[], trip int CONSTRAINT fares_trip REFERENCES nv.trips);
     COMMENT ON CONSTRAINT fares_trip ON nv.fares IS 'every fare is for a trip';
     INSERT INTO nv.fares VALUES (1, 0, '{legacy}', 1), (2, 150, '{ADD}', 2);
     ALTER TABLE nv.fares ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID;
     COMMENT ON CONSTRAINT price_positive ON nv.fares IS 'new fares only';
     ALTER DOMAIN nv.code ADD CONSTRAINT code_upper CHECK (VALUE = upper(VALUE)) NOT VALID;
     COMMENT ON CONSTRAINT code_upper ON DOMAIN nv.code IS 'upper case from now on';
     CREATE TABLE nv.other (c nv.code);`,
  );
  ({ storage } = await tempStorage());
  const { id } = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', schemas: ['nv'] });
  const before = { constraints: await constraints(db.url), rows: await rows(db.url) };
  expect(before.constraints.filter((k) => !k.convalidated).map((k) => k.conname)).toEqual(['code_upper', 'price_positive']);
  await exec(db.url, `UPDATE nv.fares SET price = 99 WHERE id = 2`);

  const plans: string[][] = [];
  const r = await restoreBackup({ source: id, storage, targetUrl: db.url, mode: 'data-only', tables: ['nv.fares'], onPlan: (p) => plans.push(p.actions) });
  expect(r.tables).toEqual([expect.objectContaining({ schema: 'nv', name: 'fares', rows: 2 })]);
  expect(plans[0]).toEqual(
    expect.arrayContaining([
      'set aside NOT VALID CHECK price_positive of nv.fares while the rows load (they were never checked against it), then add it back NOT VALID',
      'set aside NOT VALID constraint code_upper of domain nv.code while the rows load (they were never checked against it), then add it back NOT VALID',
    ]),
  );
  expect(await rows(db.url)).toEqual(before.rows);
  expect(await constraints(db.url)).toEqual(before.constraints);
  // --into-schema: the copy's column uses the live domain; its NOT VALID constraint is set aside too.
  await restoreBackup({ source: id, storage, targetUrl: db.url, intoSchema: 'nv_copy', tables: ['nv.fares'] });
  expect(await withClient(db.url, async (c) => (await c.query(`SELECT id, price, codes::text, trip FROM nv_copy.fares ORDER BY 1`)).rows)).toEqual(before.rows);
  expect(await constraints(db.url)).toEqual(before.constraints);
  // Still enforced for new rows.
  await expect(exec(db.url, `INSERT INTO nv.fares VALUES (3, -1, NULL, 1)`)).rejects.toThrow(/price_positive/);
  await expect(exec(db.url, `INSERT INTO nv.other VALUES ('lower')`)).rejects.toThrow(/code_upper/);
}, 120_000);
