import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { fingerprintDifferences, fingerprintFormat, schemaFingerprint } from '../../lib/backup/catalog/schema-fingerprint';
import { psqlFile } from '../helpers/schema-round-trip';

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

async function fp(url: string, format?: 1 | 2 | 3) {
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
    CREATE TYPE fp.trange AS RANGE (subtype = text);
    CREATE TYPE fp.row_t AS (a int); CREATE TABLE fp.typed OF fp.row_t;
    CREATE TABLE fp.parent (a int); CREATE TABLE fp.child (b int) INHERITS (fp.parent);
    CREATE SEQUENCE fp.seq OWNED BY fp.t.n; CREATE UNIQUE INDEX t_id ON fp.t (id);`;
  await withClient(db.url, (c) => c.query(`CREATE ACCESS METHOD fp_heap TYPE TABLE HANDLER heap_tableam_handler; ${base}`));
  const before = await fp(db.url);
  expect(fingerprintFormat(before)).toBe(3);
  expect(fingerprintFormat(await fp(db.url, 2))).toBe(2);
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
  // Which index is the replica identity (the table says only 'i').
  await withClient(db.url, (c) => c.query(`ALTER TABLE fp.t REPLICA IDENTITY USING INDEX t_pkey`));
  const withPkey = await fp(db.url);
  await withClient(db.url, (c) => c.query(`ALTER TABLE fp.t REPLICA IDENTITY USING INDEX t_id`));
  expect(fingerprintDifferences(withPkey, await fp(db.url), { deparsed: false }).problems).toEqual([
    'index fp.t_id differs (definition, owner or privileges)',
    'index fp.t_pkey differs (definition, owner or privileges)',
  ]);
  await withClient(db.url, (c) => c.query(`DROP SCHEMA fp CASCADE; ${base}`));
  // Across versions, what is not deparsed still counts.
  for (const [key, sql] of [
    ['relation fp.v', `COMMENT ON VIEW fp.v IS 'x'`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s TYPE varchar(5)`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s SET DEFAULT 'x'`],
    ['constraint fp.t t_n_check', `COMMENT ON CONSTRAINT t_n_check ON fp.t IS 'x'`],
    ['trigger fp.t tg', `ALTER TABLE fp.t DISABLE TRIGGER tg`],
    ['relation fp.t', `GRANT SELECT ON fp.t TO PUBLIC`],
    // Before: a column's collation, statistics target and storage, a table's access method,
    // typed-table type and inheritance parents were not compared (a restore losing COLLATE or
    // OF type passed the drill).
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s TYPE text COLLATE "C"`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s SET STATISTICS 77`],
    ['relation fp.t', `ALTER TABLE fp.t ALTER COLUMN s SET STORAGE MAIN`],
    ['relation fp.t', `ALTER TABLE fp.t SET ACCESS METHOD fp_heap`],
    ['relation fp.typed', `ALTER TABLE fp.typed NOT OF`],
    ['relation fp.child', `ALTER TABLE fp.child NO INHERIT fp.parent`],
    // ... nor a sequence's parameters and OWNED BY.
    ['relation fp.seq', `ALTER SEQUENCE fp.seq INCREMENT BY 5`],
    ['relation fp.seq', `ALTER SEQUENCE fp.seq CYCLE`],
    ['relation fp.seq', `ALTER SEQUENCE fp.seq OWNED BY NONE`],
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

it('a drill sees a lost or changed object of every kind the backup dumps (collations, operators, casts, text search, event triggers, foreign data, publications ...)', async () => {
  // Before: the fingerprint held relations, constraints, indexes, triggers, policies, routines and
  // types only; a restore that lost any of these kinds passed its drill.
  const db = await createTestDatabase({ prefix: 'fpv' });
  dbs.push(db);
  await withClient(db.url, (c) =>
    c.query(`CREATE SCHEMA fp;
      CREATE COLLATION fp.coll (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
      CREATE TYPE fp.pair AS (a int, b text);
      CREATE FUNCTION fp.pair_eq(x fp.pair, y fp.pair) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN x.a = y.a;
      CREATE FUNCTION fp.pair_hash(x fp.pair) RETURNS int LANGUAGE sql IMMUTABLE RETURN x.a;
      CREATE FUNCTION fp.pair_int(x fp.pair) RETURNS int LANGUAGE sql IMMUTABLE RETURN x.a;
      CREATE OPERATOR fp.=== (LEFTARG = fp.pair, RIGHTARG = fp.pair, FUNCTION = fp.pair_eq, COMMUTATOR = OPERATOR(fp.===));
      CREATE OPERATOR CLASS fp.pair_ops FOR TYPE fp.pair USING hash AS OPERATOR 1 fp.===, FUNCTION 1 fp.pair_hash(fp.pair);
      CREATE CAST (fp.pair AS int) WITH FUNCTION fp.pair_int(fp.pair);
      CREATE CONVERSION fp.conv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
      CREATE TEXT SEARCH CONFIGURATION fp.cfg (COPY = pg_catalog.english);
      CREATE TEXT SEARCH DICTIONARY fp.dict (TEMPLATE = pg_catalog.simple);
      CREATE TABLE fp.t (a int, b int);
      CREATE STATISTICS fp.st ON a, b FROM fp.t;
      CREATE FUNCTION fp.ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
      CREATE EVENT TRIGGER fp_ev ON ddl_command_end EXECUTE FUNCTION fp.ddl();
      CREATE FOREIGN DATA WRAPPER fp_fdw;
      CREATE SERVER fp_srv FOREIGN DATA WRAPPER fp_fdw;
      CREATE USER MAPPING FOR PUBLIC SERVER fp_srv;
      CREATE ACCESS METHOD fp_am TYPE TABLE HANDLER heap_tableam_handler;
      CREATE PUBLICATION fp_pub FOR TABLE fp.t;`),
  );
  const before = await fp(db.url);
  const cases: [string, string, string][] = [
    ['collation fp.coll', `COMMENT ON COLLATION fp.coll IS 'x'`, `COMMENT ON COLLATION fp.coll IS NULL`],
    ['operator fp.===(fp.pair,fp.pair)', `COMMENT ON OPERATOR fp.=== (fp.pair, fp.pair) IS 'x'`, `COMMENT ON OPERATOR fp.=== (fp.pair, fp.pair) IS NULL`],
    ['operator class fp.pair_ops using hash', `COMMENT ON OPERATOR CLASS fp.pair_ops USING hash IS 'x'`, `COMMENT ON OPERATOR CLASS fp.pair_ops USING hash IS NULL`],
    ['operator family fp.pair_ops using hash', `COMMENT ON OPERATOR FAMILY fp.pair_ops USING hash IS 'x'`, `COMMENT ON OPERATOR FAMILY fp.pair_ops USING hash IS NULL`],
    ['cast fp.pair as integer', `DROP CAST (fp.pair AS int)`, `CREATE CAST (fp.pair AS int) WITH FUNCTION fp.pair_int(fp.pair)`],
    ['conversion fp.conv', `DROP CONVERSION fp.conv`, `CREATE CONVERSION fp.conv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8`],
    ['text search configuration fp.cfg', `ALTER TEXT SEARCH CONFIGURATION fp.cfg DROP MAPPING FOR asciiword`, `ALTER TEXT SEARCH CONFIGURATION fp.cfg ADD MAPPING FOR asciiword WITH pg_catalog.english_stem`],
    ['text search dictionary fp.dict', `ALTER TEXT SEARCH DICTIONARY fp.dict (stopwords = 'english')`, `DROP TEXT SEARCH DICTIONARY fp.dict; CREATE TEXT SEARCH DICTIONARY fp.dict (TEMPLATE = pg_catalog.simple)`],
    ['statistics fp.st', `DROP STATISTICS fp.st`, `CREATE STATISTICS fp.st ON a, b FROM fp.t`],
    ['statistics fp.st', `ALTER STATISTICS fp.st SET STATISTICS 50`, `ALTER STATISTICS fp.st SET STATISTICS -1`],
    ['event trigger fp_ev', `ALTER EVENT TRIGGER fp_ev DISABLE`, `ALTER EVENT TRIGGER fp_ev ENABLE`],
    ['foreign data wrapper fp_fdw', `ALTER FOREIGN DATA WRAPPER fp_fdw OPTIONS (debug 'true')`, `ALTER FOREIGN DATA WRAPPER fp_fdw OPTIONS (DROP debug)`],
    ['server fp_srv', `DROP USER MAPPING FOR PUBLIC SERVER fp_srv`, `CREATE USER MAPPING FOR PUBLIC SERVER fp_srv`],
    ['access method fp_am', `DROP ACCESS METHOD fp_am`, `CREATE ACCESS METHOD fp_am TYPE TABLE HANDLER heap_tableam_handler`],
    ['publication fp_pub', `COMMENT ON PUBLICATION fp_pub IS 'x'`, `COMMENT ON PUBLICATION fp_pub IS NULL`],
    // Before: default privileges for every schema (no IN SCHEMA) were not compared (nor backed up).
    ['default privileges postgres (every schema) f', `ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`, `ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC`],
    // ... nor the privileges of the procedural language (an extension member outside the schemas).
    ['language plpgsql', `REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC`, `GRANT USAGE ON LANGUAGE plpgsql TO PUBLIC`],
  ];
  for (const [key, change, undo] of cases) {
    await withClient(db.url, (c) => c.query(change));
    const problems = fingerprintDifferences(before, await fp(db.url)).problems;
    expect(problems, change).toEqual([expect.stringMatching(new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (differs|is missing|was not in the backup)`))]);
    // Not deparsed text: found across versions too.
    expect(fingerprintDifferences(before, await fp(db.url), { deparsed: false }).problems.length, change).toBe(key.startsWith('statistics') || key.startsWith('collation') ? problems.length : 1);
    await withClient(db.url, (c) => c.query(undo));
    expect(fingerprintDifferences(before, await fp(db.url)).problems, undo).toEqual([]);
  }
});

it("runs with JIT off (compiling the big query cost more than running it) and gives the caller's jit and search_path back", async () => {
  const db = await createTestDatabase({ prefix: 'fpv' });
  dbs.push(db);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`SET jit = on; SET search_path = public, pg_temp`);
    await schemaFingerprint(c, ['public']);
    const r = await c.query(`SELECT current_setting('jit') AS jit, current_setting('search_path') AS sp`);
    expect(r.rows[0]).toEqual({ jit: 'on', sp: 'public, pg_temp' });
  } finally {
    await c.end();
  }
});

it('each comment is in its own object\'s fingerprint, on every kind (read from pg_description in the query, as obj_description / col_description read it)', async () => {
  // The fingerprint reads comments with its own pg_description lookups (no SQL function call per
  // object): a wrong class or sub-id there would lose a comment from the fingerprint, and a drill
  // would pass a restore that lost it. Every COMMENT of test/fixtures/comments-everywhere.sql is
  // changed in turn: exactly its object differs, and nothing else.
  const db = await createTestDatabase({ prefix: 'fpv' });
  dbs.push(db);
  const file = path.resolve(import.meta.dirname, '../fixtures/comments-everywhere.sql');
  await psqlFile(db.url, file);
  const comments = [...(await readFile(file, 'utf8')).matchAll(/^(COMMENT ON .*) IS '(c: [^']+)';$/gm)];
  expect(comments.length).toBeGreaterThan(40);
  const fpOf = async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return await schemaFingerprint(c, ['cm']);
    } finally {
      await c.end();
    }
  };
  const before = await fpOf();
  const seen: Record<string, string[]> = {};
  for (const [statement, target, text] of comments) {
    await withClient(db.url, (c) => c.query(`${target} IS 'changed'`));
    seen[text] = fingerprintDifferences(before, await fpOf()).problems;
    await withClient(db.url, (c) => c.query(statement));
  }
  expect(fingerprintDifferences(before, await fpOf()).problems).toEqual([]);
  for (const [text, problems] of Object.entries(seen)) {
    // Large objects are compared by content and comment outside the catalog fingerprint.
    if (text === 'c: large object') expect(problems, text).toEqual([]);
    else expect(problems, text).toEqual([expect.stringMatching(/ differs \(definition, owner or privileges\)$/)]);
  }
  expect(seen['c: column']).toEqual(['relation cm.t differs (definition, owner or privileges)']);
  expect(seen['c: composite attribute']).toEqual(['type cm.pair differs (definition, owner or privileges)']);
  expect(seen['c: domain constraint']).toEqual(['constraint domain cm.pos pos_check differs (definition, owner or privileges)']);
  expect(seen['c: index']).toEqual(['index cm.t_fts differs (definition, owner or privileges)']);
}, 120_000);

it("a domain's NOT NULL constraint (pg_constraint on 17, only typnotnull on 15) is compared within one major version, left out across versions, and read from fingerprints recorded under its old key", async () => {
  const db = await createTestDatabase({ prefix: 'fpnn' });
  dbs.push(db);
  await withClient(db.url, (c) => c.query(`CREATE SCHEMA nn; CREATE DOMAIN nn.phone AS text CONSTRAINT phone_required NOT NULL CHECK (VALUE <> '')`));
  const fp = await withClient(db.url, (c) => schemaFingerprint(c, ['nn']));
  const major = await withClient(db.url, async (c) => Number((await c.query(`SELECT current_setting('server_version_num')::int / 10000 AS m`)).rows[0].m));
  const keys = Object.keys(fp).filter((k) => k.includes('nn.phone'));
  expect(keys).toEqual(major >= 17 ? ['constraint domain nn.phone phone_check', 'domain not-null nn.phone phone_required', 'type nn.phone'] : ['constraint domain nn.phone phone_check', 'type nn.phone']);
  const same = { ...fp };
  const noNotNull = Object.fromEntries(Object.entries(fp).filter(([k]) => !k.startsWith('domain not-null ')));
  const withNotNull = { ...noNotNull, 'domain not-null nn.phone phone_required': 'feedfacefeedface' };
  // Within a version: a lost or renamed NOT NULL constraint is found.
  expect(fingerprintDifferences(withNotNull, noNotNull).problems).toEqual(['domain not-null nn.phone phone_required is missing']);
  expect(fingerprintDifferences(noNotNull, withNotNull).problems).toEqual(['domain not-null nn.phone phone_required was not in the backup']);
  // Across versions (15 <-> 17): one side has it, the other only typnotnull.
  expect(fingerprintDifferences(withNotNull, noNotNull, { deparsed: false }).problems).toEqual([]);
  expect(fingerprintDifferences(noNotNull, withNotNull, { deparsed: false }).problems).toEqual([]);
  // A fingerprint recorded before (key 'constraint domain ...') matches the same hash under the new key.
  const legacy = { ...noNotNull, 'constraint domain nn.phone phone_required': 'feedfacefeedface' };
  expect(fingerprintDifferences(legacy, withNotNull).problems).toEqual([]);
  expect(fingerprintDifferences(legacy, { ...noNotNull, 'domain not-null nn.phone phone_required': 'deadbeefdeadbeef' }).problems).toEqual([
    'constraint domain nn.phone phone_required is missing',
    'domain not-null nn.phone phone_required was not in the backup',
  ]);
  expect(fingerprintDifferences(same, fp).problems).toEqual([]);
});

it('format 2 (manifests written before format 3) is computed as it was: a view over a VALUES list keeps its printed text there, read alike only in format 3', async () => {
  const db = await createTestDatabase({ prefix: 'fpv' });
  dbs.push(db);
  await withClient(db.url, (c) =>
    c.query(`CREATE SCHEMA fp; CREATE VIEW fp.plain AS SELECT 1 AS one; CREATE VIEW fp.vals AS SELECT x.a FROM (VALUES (1), (2)) x(a);
             CREATE TABLE fp.p (id int GENERATED BY DEFAULT AS IDENTITY, k int) PARTITION BY LIST (k); CREATE TABLE fp.p1 PARTITION OF fp.p FOR VALUES IN (1)`),
  );
  const [two, three] = [await fp(db.url, 2), await fp(db.url, 3)];
  expect(fingerprintFormat(two)).toBe(2);
  expect(two['relation fp.plain']).toBe(three['relation fp.plain']);
  // PostgreSQL prints '( VALUES ' there: format 2 hashed that text, format 3 reads it as '(VALUES '.
  expect(two['relation fp.vals']).not.toBe(three['relation fp.vals']);
  expect(two['relation fp.vals'].split('/')[0]).toBe(three['relation fp.vals'].split('/')[0]);
  expect(two['relation fp.p']).toBe(three['relation fp.p']);
});
