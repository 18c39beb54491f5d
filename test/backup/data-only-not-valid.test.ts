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

// A NOT VALID CHECK that a partition or an inheritance child only inherits could not be set aside
// on it ("cannot drop inherited constraint"): the reload failed. It is now set aside on the
// ancestor that defines it and comes back on every descendant as it was — NOT VALID, except a copy
// validated on its own, which is validated again. A copy that is also the child's own stays, and
// that reload still fails, naming the constraint.
const inheritedState = (url: string) =>
  withClient(url, async (c) =>
    (
      await c.query(`SELECT conrelid::regclass::text AS on, conname, convalidated, conislocal, coninhcount, pg_get_constraintdef(oid) AS def, obj_description(oid, 'pg_constraint') AS comment
                       FROM pg_constraint WHERE connamespace = 'nvi'::regnamespace AND contype = 'c' ORDER BY 1, 2`)
    ).rows,
  );

it('data-only reload of a partition and an inheritance child whose rows break a NOT VALID CHECK they inherit: reloaded, every copy of the CHECK back as it was', async () => {
  const db = await createTestDatabase({ prefix: 'nvi' });
  dbs.push(db);
  await exec(
    db.url,
    `CREATE SCHEMA nvi;
     CREATE TABLE nvi.parted (k int, v int) PARTITION BY RANGE (k);
     CREATE TABLE nvi.parted_mid PARTITION OF nvi.parted FOR VALUES FROM (0) TO (100) PARTITION BY RANGE (k);
     CREATE TABLE nvi.parted_low PARTITION OF nvi.parted_mid FOR VALUES FROM (0) TO (50);
     CREATE TABLE nvi.parted_hi PARTITION OF nvi.parted_mid FOR VALUES FROM (50) TO (100);
     INSERT INTO nvi.parted VALUES (1, -5), (60, 7);
     ALTER TABLE nvi.parted ADD CONSTRAINT v_positive CHECK (v > 0) NOT VALID;
     COMMENT ON CONSTRAINT v_positive ON nvi.parted IS 'new rows only';
     ALTER TABLE nvi.parted_hi VALIDATE CONSTRAINT v_positive;
     CREATE TABLE nvi.base (x int);
     CREATE TABLE "nvi"."Kid" (y text) INHERITS (nvi.base);
     CREATE TABLE nvi.kid2 () INHERITS (nvi.base);
     INSERT INTO "nvi"."Kid" VALUES (-1, 'legacy'), (2, 'new');
     INSERT INTO nvi.kid2 VALUES (-3);
     ALTER TABLE nvi.base ADD CONSTRAINT "x pos" CHECK (x > 0) NOT VALID;
     CREATE TABLE nvi.own (x int);
     CREATE TABLE nvi.own_kid () INHERITS (nvi.own);
     INSERT INTO nvi.own_kid VALUES (-9);
     ALTER TABLE nvi.own_kid ADD CONSTRAINT o CHECK (x > 0) NOT VALID;
     ALTER TABLE nvi.own ADD CONSTRAINT o CHECK (x > 0) NOT VALID;`,
  );
  ({ storage } = await tempStorage());
  const { id } = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', schemas: ['nvi'] });
  const before = await inheritedState(db.url);
  expect(before.filter((k) => k.conname === 'v_positive').map((k) => [k.on, k.convalidated, k.coninhcount])).toEqual([
    ['nvi.parted', false, 0],
    ['nvi.parted_hi', true, 1],
    ['nvi.parted_low', false, 1],
    ['nvi.parted_mid', false, 1],
  ]);
  const rowsOf = () => withClient(db.url, async (c) => (await c.query(`SELECT 'p' AS t, k, v FROM nvi.parted UNION ALL SELECT 'b', x, NULL FROM nvi.base ORDER BY 1, 2`)).rows);
  const wantRows = await rowsOf();
  await exec(db.url, `DELETE FROM nvi.parted; DELETE FROM nvi.base`);

  const plans: string[][] = [];
  const r = await restoreBackup({ source: id, storage, targetUrl: db.url, mode: 'data-only', tables: ['nvi.parted_low', 'nvi.parted_hi', '"nvi"."Kid"', 'nvi.kid2'], onPlan: (p) => plans.push(p.actions) });
  expect(r.tables.map((t) => [t.name, t.rows]).sort()).toEqual([['Kid', 2], ['kid2', 1], ['parted_hi', 1], ['parted_low', 1]]);
  expect(plans[0]).toEqual(
    expect.arrayContaining([
      'set aside NOT VALID CHECK v_positive of nvi.parted while the rows load (they were never checked against it), then add it back NOT VALID',
      'set aside NOT VALID CHECK "x pos" of nvi.base while the rows load (they were never checked against it), then add it back NOT VALID',
    ]),
  );
  expect(await rowsOf()).toEqual(wantRows);
  expect(await inheritedState(db.url)).toEqual(before);
  // Still enforced for new rows, on every level.
  await expect(exec(db.url, `INSERT INTO nvi.parted VALUES (2, -1)`)).rejects.toThrow(/v_positive/);
  await expect(exec(db.url, `INSERT INTO nvi.kid2 VALUES (-4)`)).rejects.toThrow(/x pos/);

  // A copy that is the child's own as well as inherited: left alone, so the reload fails, naming it.
  await expect(restoreBackup({ source: id, storage, targetUrl: db.url, mode: 'data-only', tables: ['nvi.own_kid'] })).rejects.toThrow(/violates check constraint "o"/);
  expect(await inheritedState(db.url)).toEqual(before);
}, 120_000);
