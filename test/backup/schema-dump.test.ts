import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { dumpInSnapshot, localPgDumpMajor, pgDumpSchema, psqlFile, roundTrip, serverMajor } from '../helpers/schema-round-trip';
import { dumpSchema } from '../../lib/backup/catalog/dump-schema';
import { quoteIdent } from '../../lib/backup/catalog/quote-ident';
import { chinookSqlPath } from '../helpers/fixtures';

const CHINOOK = chinookSqlPath();
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});
async function db(migrate = false) {
  const d = await createTestDatabase({ migrate, prefix: 'sd' });
  dbs.push(d);
  return d;
}

/**
 * The acceptance bar: source -> dumpSchema -> empty database -> same schema (pg_dump output on
 * PostgreSQL 15, catalog fingerprint on every server), same rows, and a second dump of the restored
 * database equal to the first.
 */
export async function expectFaithfulRoundTrip(source: TestDatabase, schemas: string[], excludeTableData: string[] = []) {
  const target = await db();
  const dump = await roundTrip(source.url, target.url, { schemas, excludeTableData });

  expect(await catalogFingerprint(target.url)).toBe(await catalogFingerprint(source.url));
  const wantRows = await tableHashes(source.url, schemas);
  const gotRows = await tableHashes(target.url, schemas);
  for (const t of excludeTableData) {
    expect(gotRows.get(t)?.rows).toBe(0);
    wantRows.set(t, gotRows.get(t)!);
  }
  expect(gotRows).toEqual(wantRows);

  expect(dump.warnings).toEqual([]);
  const major = await serverMajor(source.url);
  const dumpMajor = await localPgDumpMajor();
  if (dumpMajor !== null && dumpMajor >= major) {
    const want = await pgDumpSchema(source.url);
    expect(want).toContain('CREATE TABLE');
    expect(await pgDumpSchema(target.url)).toBe(want);
  }

  // Idempotent: dumping the restored database gives the same DDL and sequence values.
  const again = await dumpInSnapshot(target.url, { schemas, excludeTableData });
  expect(again.objects).toEqual(dump.objects);
  expect(again.sequenceSetSql).toBe(dump.sequenceSetSql);
  return { dump, target };
}

describe('dumpSchema: Chinook', () => {
  it('restores Chinook into an empty database with identical schema and rows', async () => {
    const src = await db();
    await psqlFile(src.url, CHINOOK);
    await withClient(src.url, (c) => c.query('ANALYZE'));
    const { dump } = await expectFaithfulRoundTrip(src, ['public']);
    expect(dump.tables.map((t) => t.name)).toContain('invoice_line');
    expect(dump.tables.find((t) => t.name === 'track')!.relpages).toBeGreaterThan(0);
    expect(dump.objects.filter((o) => o.kind === 'FK CONSTRAINT').every((o) => o.section === 'post-data')).toBe(true);
  });
});

describe('dumpSchema: TicketHub', () => {
  it('restores the migrated TicketHub schema; backup_runs keeps its definition but no rows', async () => {
    const src = await db(true);
    await withClient(src.url, async (c) => {
      await c.query(`INSERT INTO admin_users (email, full_name, password_hash, role) VALUES ('a@b.et', 'አበበ ቢቂላ', 'x', 'admin')`);
      await c.query(`INSERT INTO telegram_users (telegram_id, first_name) SELECT g, 'user ' || g FROM generate_series(1, 50) g`);
      await c.query(`INSERT INTO trips (origin, destination, departure_at, vehicle_plate, total_seats, price_etb)
                     VALUES ('Addis Ababa', 'Bahir Dar', now() + interval '1 day', 'AA-1234', 40, 850.50)`);
      await c.query(`INSERT INTO backup_runs (id, trigger, status, finished_at) VALUES ('20261125T020000Z-abcdef', 'cli', 'failed', now())`);
    });
    const { dump, target } = await expectFaithfulRoundTrip(src, ['public'], ['public.backup_runs']);
    expect(dump.tables.find((t) => t.name === 'backup_runs')!.dataExcluded).toBe(true);
    expect(dump.tables.filter((t) => t.dataExcluded)).toHaveLength(1);
    expect(dump.sequences.find((s) => s.name === 'telegram_users_id_seq')).toMatchObject({ lastValue: '50', isCalled: true });
    // The restored identity continues after the copied rows.
    await withClient(target.url, async (c) => {
      const r = await c.query(`INSERT INTO telegram_users (telegram_id, first_name) VALUES (999, 'x') RETURNING id`);
      expect(r.rows[0].id).toBe('51');
    });
  });

  it('dumps the TicketHub schema with a fixed, small number of catalog queries (its speed is in the benchmarks, not here)', async () => {
    const src = await db(true);
    const c = new pg.Client({ connectionString: src.url });
    await c.connect();
    let queries = 0;
    const orig = c.query.bind(c) as (...a: unknown[]) => unknown;
    (c as unknown as { query: unknown }).query = (...a: unknown[]) => {
      queries++;
      return orig(...a);
    };
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await dumpSchema(c, { schemas: ['public'], excludeTableData: [] }); // warm-up (plan caches, catalog pages)
      queries = 0;
      const d = await dumpSchema(c, { schemas: ['public'], excludeTableData: [] });
      await c.query('COMMIT');
      expect(d.objects.length).toBeGreaterThan(50);
      expect(queries).toBeLessThan(30);
    } finally {
      await c.end();
    }
  });

  it('never writes: works in a READ ONLY transaction and leaves search_path as it was', async () => {
    const src = await db(true);
    await withClient(src.url, async (c) => {
      await c.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`);
      await c.query(`SET LOCAL search_path = public, pg_catalog`);
      await dumpSchema(c, { schemas: ['public'], excludeTableData: [] });
      expect((await c.query(`SHOW search_path`)).rows[0].search_path).toBe('public, pg_catalog');
      await c.query('COMMIT');
    });
  });

  it('reads the catalogs with JIT off (compiling a big catalog query cost more than running it) and gives the caller\'s jit back', async () => {
    const src = await db(true);
    await withClient(src.url, async (c) => {
      await c.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`);
      await c.query(`SET LOCAL jit = on`);
      // What each catalog query of the dump runs under, asked on the same connection just before it.
      const seen = new Set<string>();
      const orig = c.query.bind(c) as (...a: unknown[]) => Promise<unknown>;
      (c as unknown as { query: unknown }).query = async (...a: unknown[]) => {
        const q = a[0] as string | { text?: string };
        const text = typeof q === 'string' ? q : (q.text ?? '');
        if (text.includes('pg_catalog.pg_get_triggerdef') || text.includes('pg_catalog.pg_get_indexdef')) {
          const r = (await orig(`SELECT pg_catalog.current_setting('jit') AS jit`)) as { rows: { jit: string }[] };
          seen.add(r.rows[0].jit);
        }
        return orig(...a);
      };
      await dumpSchema(c, { schemas: ['public'], excludeTableData: [] });
      expect([...seen]).toEqual(['off']);
      expect((await c.query(`SHOW jit`)).rows[0].jit).toBe('on');
      await c.query('COMMIT');
    });
  });

  it('refuses to run outside a transaction (names would deparse unqualified)', async () => {
    const src = await db();
    await withClient(src.url, async (c) => {
      await expect(dumpSchema(c, { schemas: ['public'], excludeTableData: [] })).rejects.toThrow(/must run inside a transaction/);
    });
  });

  it('rejects an unknown schema with one clear error', async () => {
    const src = await db();
    await withClient(src.url, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await expect(dumpSchema(c, { schemas: ['public', 'nope'], excludeTableData: [] })).rejects.toThrow(/schema "nope" does not exist/);
      await c.query('ROLLBACK');
    });
  });
});

describe('dumpSchema: identity columns on partitioned tables', () => {
  it('restores two levels of partitions under an identity parent (PostgreSQL 17 shares the identity down the tree)', async () => {
    const src = await db();
    await withClient(src.url, async (c) => {
      await c.query(`CREATE TABLE public.seats (id int GENERATED BY DEFAULT AS IDENTITY, trip int NOT NULL, label text, PRIMARY KEY (id, trip))
                       PARTITION BY LIST (trip)`);
      await c.query(`CREATE TABLE public.seats_1 PARTITION OF public.seats FOR VALUES IN (1)`);
      await c.query(`CREATE TABLE public.seats_2 PARTITION OF public.seats FOR VALUES IN (2, 3) PARTITION BY HASH (id)`);
      await c.query(`CREATE TABLE public.seats_2a PARTITION OF public.seats_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0)`);
      await c.query(`CREATE TABLE public.seats_2b PARTITION OF public.seats_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1)`);
      await c.query(`CREATE TABLE public.seats_x PARTITION OF public.seats DEFAULT`);
      await c.query(`INSERT INTO public.seats (trip, label) SELECT 1 + g % 5, 'seat ' || g FROM generate_series(1, 40) g`);
    });
    const { target } = await expectFaithfulRoundTrip(src, ['public']);
    await withClient(target.url, async (c) => {
      expect((await c.query(`INSERT INTO public.seats (trip) VALUES (3) RETURNING id`)).rows[0].id).toBe(41);
    });
  });

  it('on PostgreSQL 14-16 keeps a partition\'s own identity (a table attached with its own identity column)', async () => {
    const src = await db();
    if ((await serverMajor(src.url)) >= 17) return; // 17 refuses to attach such a table: the case cannot exist there
    await withClient(src.url, async (c) => {
      await c.query(`CREATE TABLE public.legs (id bigint NOT NULL, trip int NOT NULL) PARTITION BY LIST (trip)`);
      await c.query(`CREATE TABLE public.legs_1 (id bigint GENERATED ALWAYS AS IDENTITY (START WITH 7), trip int NOT NULL)`);
      await c.query(`ALTER TABLE public.legs ATTACH PARTITION public.legs_1 FOR VALUES IN (1)`);
      await c.query(`INSERT INTO public.legs_1 (trip) VALUES (1), (1)`);
    });
    const { dump } = await expectFaithfulRoundTrip(src, ['public']);
    expect(dump.objects.find((o) => o.kind === 'TABLE' && o.name === 'legs_1')!.sql).toContain('GENERATED ALWAYS AS IDENTITY (\n        SEQUENCE NAME public.legs_1_id_seq');
  });
});

describe('dumpSchema: what it cannot reproduce is reported, not dropped silently', () => {
  it('lists outside dependencies and broken dependency loops in warnings; foreign tables and collations are dumped', async () => {
    const src = await db();
    await withClient(src.url, async (c) => {
      await c.query(`CREATE FOREIGN DATA WRAPPER sd_dummy_fdw`);
      await c.query(`CREATE SERVER sd_dummy_srv FOREIGN DATA WRAPPER sd_dummy_fdw`);
      await c.query(`CREATE FOREIGN TABLE public.remote_things (id int) SERVER sd_dummy_srv`);
      await c.query(`CREATE COLLATION public.my_c FROM "C"`);
      // Supabase-style: a foreign key into a schema that is not backed up.
      await c.query(`CREATE SCHEMA auth; CREATE TABLE auth.users (id uuid PRIMARY KEY)`);
      await c.query(`CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users)`);
      // A view calling a SQL-standard function that reads that view: broken as pg_dump does, with
      // a placeholder view first and CREATE OR REPLACE VIEW after the function (nasty-cycles.sql).
      await c.query(`CREATE TABLE public.loop_t (id int)`);
      await c.query(`CREATE VIEW public.loop_v AS SELECT id FROM public.loop_t`);
      await c.query(`CREATE FUNCTION public.loop_n() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM public.loop_v; END`);
      await c.query(`CREATE OR REPLACE VIEW public.loop_v AS SELECT id FROM public.loop_t WHERE public.loop_n() >= 0`);
      // Two SQL-standard functions calling each other: a true loop no order and no split resolves
      // (pg_dump cannot either).
      await c.query(`CREATE FUNCTION public.ping(n int) RETURNS int LANGUAGE sql RETURN n`);
      await c.query(`CREATE FUNCTION public.pong(n int) RETURNS int LANGUAGE sql RETURN public.ping(n - 1)`);
      await c.query(`CREATE OR REPLACE FUNCTION public.ping(n int) RETURNS int LANGUAGE sql RETURN CASE WHEN n > 0 THEN public.pong(n) ELSE 0 END`);
    });
    const dump = await dumpInSnapshot(src.url, { schemas: ['public'] });
    // Formerly reported as not reproduced; now dumped (lib/backup/catalog/kinds).
    expect(dump.objects.find((o) => o.kind === 'FOREIGN TABLE' && o.name === 'remote_things')!.sql).toContain('SERVER sd_dummy_srv');
    // A copy of "C" (usable in every encoding) is written as a copy (ee24de5), not as provider/locale.
    expect(dump.objects.find((o) => o.kind === 'COLLATION' && o.name === 'my_c')!.sql).toBe(`CREATE COLLATION public.my_c FROM pg_catalog."C";\n`);
    // Its owner is an OWNER object of its own (restore --no-owner skips it), after the collation.
    const owner = dump.objects.findIndex((o) => o.kind === 'OWNER' && o.name === 'COLLATION my_c');
    expect(dump.objects[owner]).toMatchObject({ section: 'post-data', schema: 'public', sql: 'ALTER COLLATION public.my_c OWNER TO postgres;\n' });
    expect(owner).toBeGreaterThan(dump.objects.findIndex((o) => o.kind === 'COLLATION' && o.name === 'my_c'));
    expect(dump.warnings).toContain('table constraint profiles_id_fkey on public.profiles uses table auth.users outside the dumped schemas');
    expect(dump.warnings.filter((w) => /^dependency loop broken at /.test(w))).toEqual(['dependency loop broken at FUNCTION public.ping(n integer): the restore may fail there']);
    const kinds = dump.objects.map((o) => `${o.kind} ${o.name}`);
    expect(dump.objects.find((o) => o.kind === 'VIEW' && o.name === 'loop_v')!.sql).toBe('CREATE VIEW public.loop_v AS\n SELECT NULL::integer AS id;\n');
    expect(kinds.indexOf('RULE _RETURN')).toBeGreaterThan(kinds.indexOf('FUNCTION loop_n()'));
    expect(kinds.indexOf('FUNCTION loop_n()')).toBeGreaterThan(kinds.indexOf('VIEW loop_v'));
    expect(dump.tables.some((t) => t.name === 'remote_things')).toBe(false);
  });
});

describe('quoteIdent', () => {
  it('quotes like quote_ident', async () => {
    const names = ['plain', 'Mixed', 'with space', 'select', 'user', 'order', 'abc$1', '1abc', 'a"b', 'ስም', 'name', 'type', 'text', 'int'];
    const src = await db();
    await withClient(src.url, async (c) => {
      const r = await c.query<{ q: string[] }>(`SELECT array_agg(quote_ident(x) ORDER BY i) AS q FROM unnest($1::text[]) WITH ORDINALITY u(x, i)`, [names]);
      expect(names.map(quoteIdent)).toEqual(r.rows[0].q);
    });
  });
});
