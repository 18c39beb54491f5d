import { afterAll, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { fingerprintDifferences, fingerprintFormat, schemaFingerprint } from '../../lib/backup/catalog/schema-fingerprint';

/**
 * The drill's catalog fingerprint (format 2) splits each object into what every major version
 * prints alike and what the server deparses. Across major versions only the first is compared; on
 * the same major version, everything: a changed view query, CHECK, index predicate, default,
 * policy, rule or trigger WHEN is still a difference there. And across versions, a changed column,
 * owner or comment still is.
 */
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
});

async function fp(url: string, format?: 1 | 2) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await schemaFingerprint(c, ['fp'], { format });
  } finally {
    await c.end();
  }
}

it('same major: every deparsed change is found; other majors: deparsed text is skipped and counted, the rest still compared', async () => {
  const db = await createTestDatabase({ prefix: 'fpv' });
  dbs.push(db);
  const base = `
    CREATE SCHEMA IF NOT EXISTS fp;
    CREATE TABLE fp.t (id int PRIMARY KEY, n int DEFAULT 1 CHECK (n > 0), s text);
    CREATE INDEX t_part ON fp.t (n) WHERE n > 5;
    CREATE VIEW fp.v AS SELECT id, n FROM fp.t WHERE n > 1;
    ALTER TABLE fp.t ENABLE ROW LEVEL SECURITY;
    CREATE POLICY p ON fp.t USING (n > 2);
    CREATE RULE r AS ON UPDATE TO fp.v DO INSTEAD UPDATE fp.t SET n = NEW.n WHERE id = OLD.id;
    CREATE FUNCTION fp.tf() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER tg BEFORE UPDATE ON fp.t FOR EACH ROW WHEN (NEW.n > 3) EXECUTE FUNCTION fp.tf();
    CREATE FUNCTION fp.f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
    CREATE TYPE fp.pair AS (a int, b text);
    CREATE TYPE fp.trange AS RANGE (subtype = text);`;
  await withClient(db.url, (c) => c.query(base));
  const before = await fp(db.url);
  expect(fingerprintFormat(before)).toBe(2);
  expect(fingerprintFormat(await fp(db.url, 1))).toBe(1);
  const changes: [string, string][] = [
    ['relation fp.v', `CREATE OR REPLACE VIEW fp.v AS SELECT id, n FROM fp.t WHERE n > 9`],
    ['constraint fp.t t_n_check', `ALTER TABLE fp.t DROP CONSTRAINT t_n_check, ADD CONSTRAINT t_n_check CHECK (n > 9)`],
    ['index fp.t_part', `DROP INDEX fp.t_part; CREATE INDEX t_part ON fp.t (n) WHERE n > 9`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN n SET DEFAULT 9`],
    ['policy fp.t p', `ALTER POLICY p ON fp.t USING (n > 9)`],
    ['rule fp.v r', `CREATE OR REPLACE RULE r AS ON UPDATE TO fp.v DO INSTEAD UPDATE fp.t SET n = NEW.n + 1 WHERE id = OLD.id`],
    ['trigger fp.t tg', `DROP TRIGGER tg ON fp.t; CREATE TRIGGER tg BEFORE UPDATE ON fp.t FOR EACH ROW WHEN (NEW.n > 9) EXECUTE FUNCTION fp.tf()`],
    ['routine fp.f()', `CREATE OR REPLACE FUNCTION fp.f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 2; END`],
  ];
  for (const [key, sql] of changes) {
    await withClient(db.url, (c) => c.query(sql));
    const after = await fp(db.url);
    expect(fingerprintDifferences(before, after).problems, key).toEqual([`${key} differs (definition, owner or privileges)`]);
    const across = fingerprintDifferences(before, after, { deparsed: false });
    expect(across.problems, key).toEqual([]);
    expect(across.notCompared).toBeGreaterThanOrEqual(7);
    await withClient(db.url, (c) => c.query(`DROP SCHEMA fp CASCADE; ${base}`));
    expect(fingerprintDifferences(before, await fp(db.url)).problems).toEqual([]);
  }
  // Across versions, what is not deparsed still counts.
  for (const [key, sql] of [
    ['relation fp.v', `COMMENT ON VIEW fp.v IS 'x'`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s TYPE varchar(5)`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s SET DEFAULT 'x'`],
    ['constraint fp.t t_n_check', `COMMENT ON CONSTRAINT t_n_check ON fp.t IS 'x'`],
    ['trigger fp.t tg', `ALTER TABLE fp.t DISABLE TRIGGER tg`],
    ['relation fp.t', `GRANT SELECT ON fp.t TO PUBLIC`],
    // Before: a composite type's attributes and a range's collation were not in the fingerprint.
    ['type fp.pair', `ALTER TYPE fp.pair ADD ATTRIBUTE c date`],
    ['type fp.pair', `ALTER TYPE fp.pair ALTER ATTRIBUTE b TYPE varchar(3)`],
    ['type fp.trange', `DROP TYPE fp.trange; CREATE TYPE fp.trange AS RANGE (subtype = text, collation = "C")`],
    ['routine fp.f()', `REVOKE EXECUTE ON FUNCTION fp.f() FROM PUBLIC`],
  ] as const) {
    await withClient(db.url, (c) => c.query(sql));
    expect(fingerprintDifferences(before, await fp(db.url), { deparsed: false }).problems, sql).toEqual([`${key} differs (definition, owner or privileges)`]);
    await withClient(db.url, (c) => c.query(`DROP SCHEMA fp CASCADE; ${base}`));
  }
});
