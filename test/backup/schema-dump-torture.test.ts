import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { dumpInSnapshot, localPgDumpMajor, pgDumpSchema, psqlFile, roundTrip, serverMajor } from '../helpers/schema-round-trip';
import { listTablesToLock } from '../../lib/backup/catalog/dump-schema';

const TORTURE = path.resolve(import.meta.dirname, '../fixtures/torture-schema.sql');
const SCHEMAS = ['public', 'Weird Name'];
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

describe('dumpSchema: torture schema', () => {
  it('reproduces every supported object kind, in two schemas, with identical schema and rows', async () => {
    const src = await createTestDatabase({ prefix: 'sdt' });
    const target = await createTestDatabase({ prefix: 'sdt' });
    dbs.push(src, target);
    await psqlFile(src.url, TORTURE);
    await withClient(src.url, (c) => c.query('ANALYZE'));

    const dump = await roundTrip(src.url, target.url, { schemas: SCHEMAS, excludeTableData: ['public.scratch'] });

    expect(dump.warnings).toEqual([]);
    const kinds = new Set(dump.objects.map((o) => o.kind));
    for (const k of ['SCHEMA', 'EXTENSION', 'TYPE', 'DOMAIN', 'SEQUENCE', 'SEQUENCE OWNED BY', 'TABLE', 'TABLE ATTACH', 'DEFAULT', 'FUNCTION', 'PROCEDURE',
      'AGGREGATE', 'VIEW', 'MATERIALIZED VIEW', 'COMMENT', 'CONSTRAINT', 'CHECK CONSTRAINT', 'FK CONSTRAINT', 'INDEX', 'INDEX ATTACH', 'STATISTICS', 'TRIGGER', 'RULE',
      'POLICY', 'ROW SECURITY', 'MATERIALIZED VIEW DATA']) {
      expect(kinds, k).toContain(k);
    }
    // The extension's schema is outside the dump: created (as the source has it) only when missing.
    const hstore = dump.objects.find((o) => o.kind === 'EXTENSION' && o.name === 'hstore')!.sql;
    expect(hstore).toMatch(/^DO \$th\$\nBEGIN\n {2}IF NOT EXISTS \(SELECT 1 FROM pg_catalog\.pg_namespace WHERE nspname = 'ext'\) THEN\n {4}CREATE SCHEMA ext;\n/);
    expect(hstore).toMatch(/\n\$th\$;\nCREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA ext;\n$/);
    // Only populated matviews are refreshed, after everything else, the one read by another first.
    const refresh = dump.objects.filter((o) => o.kind === 'MATERIALIZED VIEW DATA').map((o) => o.name);
    expect(refresh).toEqual(['mood_counts', 'mood_counts_2']);
    expect(dump.objects.at(-1)!.kind).toBe('MATERIALIZED VIEW DATA');
    // Partitioned parents hold no rows of their own; leaf partitions do.
    const tables = dump.tables.map((t) => `${t.schema}.${t.name}`);
    expect(tables).not.toContain('public.events');
    expect(tables).not.toContain('public.events_2026');
    expect(tables).toContain('public.events_2026_h0');
    expect(tables).not.toContain('public.mood_counts');
    expect(dump.tables.find((t) => t.name === 'customers')!.columns).not.toContain('name_len');
    expect(dump.tables.find((t) => t.name === 'customers')!.columns).not.toContain('dropped_col');
    expect(dump.tables.find((t) => t.name === 'Order Items')!.columns).toEqual(['Id', 'Select', 'customer_id', 'qty', 'price', 'ticket']);

    expect(await catalogFingerprint(target.url)).toBe(await catalogFingerprint(src.url));
    const want = await tableHashes(src.url, SCHEMAS);
    const got = await tableHashes(target.url, SCHEMAS);
    expect(got.get('public.scratch')!.rows).toBe(0);
    want.set('public.scratch', got.get('public.scratch')!);
    expect(got).toEqual(want);
    expect(got.get('public.events_2026_h0')!.rows).toBeGreaterThan(0);

    if (((await localPgDumpMajor()) ?? 0) >= (await serverMajor(src.url))) {
      const a = await pgDumpSchema(src.url);
      expect(a).toContain('"Weird Name"');
      expect(await pgDumpSchema(target.url)).toBe(a);
    }

    const again = await dumpInSnapshot(target.url, { schemas: SCHEMAS, excludeTableData: ['public.scratch'] });
    expect(again.objects).toEqual(dump.objects);
    expect(again.sequenceSetSql).toBe(dump.sequenceSetSql);

    // Identity on a partitioned parent: each partition is created stand-alone WITHOUT an identity
    // (PostgreSQL 17 refuses to attach one that has its own) and gets the parent's on ATTACH.
    const major = await serverMajor(src.url);
    for (const part of ['tickets_2025', 'tickets_2026', 'tickets_other']) {
      const t = dump.objects.find((o) => o.kind === 'TABLE' && o.name === part)!;
      expect(t.sql).not.toContain('IDENTITY');
      expect(t.sql).toMatch(/"?id"? bigint NOT NULL/);
      expect(dump.objects.find((o) => o.kind === 'TABLE ATTACH' && o.name === part)!.sql).toContain('ATTACH PARTITION');
    }
    expect(dump.objects.find((o) => o.kind === 'TABLE' && o.name === 'tickets')!.sql).toContain('GENERATED ALWAYS AS IDENTITY');
    expect(dump.tables.find((t) => t.name === 'tickets_other')!.columns).toEqual(['id', 'sold_on', 'seat']);
    expect(got.get('public.tickets_other')!.rows).toBeGreaterThan(0);
    await withClient(target.url, async (c) => {
      const ident = await c.query<{ relname: string; attidentity: string; collation: string }>(
        `SELECT c.relname, a.attidentity, (SELECT collname FROM pg_collation WHERE oid = s.attcollation) AS collation
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id'
           JOIN pg_attribute s ON s.attrelid = c.oid AND s.attname = 'seat'
          WHERE c.relname LIKE 'tickets%' AND c.relkind IN ('r', 'p') ORDER BY 1`,
      );
      // 17: partitions share the parent's identity; 15: only the parent has one.
      expect(ident.rows).toEqual([
        { relname: 'tickets', attidentity: 'a', collation: 'C' },
        ...['tickets_2025', 'tickets_2026', 'tickets_other'].map((relname) => ({ relname, attidentity: major >= 17 ? 'a' : '', collation: 'C' })),
      ]);
      // The shared identity continues after the copied rows (90 rows from 500 by 3).
      expect((await c.query(`INSERT INTO public.tickets (sold_on) VALUES ('2026-03-01') RETURNING id`)).rows[0].id).toBe('770');
      if (major >= 17) {
        expect((await c.query(`INSERT INTO public.tickets_2025 (sold_on) VALUES ('2025-03-01') RETURNING id`)).rows[0].id).toBe('773');
      }
    });

    await withClient(target.url, async (c) => {
      // Sequences continue where the source stopped (its on-disk last_value, cache included, as pg_dump reads it).
      const odd = dump.sequences.find((s) => s.name === 'odd_seq')!;
      expect(odd.isCalled).toBe(true);
      expect((await c.query(`SELECT nextval('public.odd_seq') AS v`)).rows[0].v).toBe(String(Number(odd.lastValue) + 5));
      expect(dump.sequences.find((s) => s.name === 'unused_seq')).toMatchObject({ lastValue: '1', isCalled: false });
      expect((await c.query(`SELECT relispopulated FROM pg_class WHERE relname = 'empty_mv'`)).rows[0].relispopulated).toBe(false);
      expect((await c.query(`SELECT n FROM public.mood_counts WHERE feeling = 'happy'`)).rows[0].n).toBe('8');
    });
  });
});

describe('listTablesToLock', () => {
  it('lists tables and partitioned tables but no materialized views (LOCK TABLE refuses them), and the list locks', async () => {
    const src = await createTestDatabase({ prefix: 'sdt' });
    dbs.push(src);
    await psqlFile(src.url, TORTURE);
    await withClient(src.url, async (c) => {
      const list = await listTablesToLock(c, SCHEMAS);
      expect(list).toContain('public.tickets');
      expect(list).toContain('public.tickets_other');
      expect(list).toContain('public.events_2026');
      expect(list).toContain('"Weird Name"."Order Items"');
      for (const mv of ['public.mood_counts', 'public.mood_counts_2', 'public.empty_mv', 'public.customer_names']) expect(list).not.toContain(mv);
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await c.query(`LOCK TABLE ${list.join(', ')} IN ACCESS SHARE MODE`);
      await c.query('COMMIT');
      // Why matviews stay out: the server refuses to lock one.
      await c.query('BEGIN');
      await expect(c.query('LOCK TABLE public.mood_counts IN ACCESS SHARE MODE')).rejects.toThrow(/cannot lock relation|not supported for materialized views/);
      await c.query('ROLLBACK');
    });
  });
});
