import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { restoreLockPeak, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { manifestKey } from '../../lib/backup/manifest';
import type { Manifest } from '../../lib/backup/manifest';
import { locksIntoSchema, locksNeeded, locksToDrop } from '../../lib/backup/lock-budget';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * The lock estimate against shapes that take locks the table count does not show. An atomic
 * restore holds, until COMMIT, a lock-table entry per relation it creates AND per other object it
 * creates, alters the owner of or comments on (functions, enum and domain types with their array
 * types, a refreshed materialized view's new heap, large objects, commented triggers, rules and
 * policies); a replace also holds one per
 * object its DROP ... CASCADE removes (every column default, trigger, rule, policy, statistics
 * object, array type ...). The estimate must cover what the restore really holds, or a restore the
 * arithmetic let through fails halfway with "out of shared memory".
 */
const K = 40;
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let id: string;
let m: Manifest;

beforeAll(async () => {
  const src = await createTestDatabase({ prefix: 'lbs' });
  dbs.push(src);
  await withClient(src.url, async (c) => {
    await c.query(`DO $$ BEGIN FOR i IN 1..${K} LOOP
      EXECUTE format('CREATE TABLE public.d%s (id serial PRIMARY KEY, note text DEFAULT ''x'', a int DEFAULT 1, b int DEFAULT 2 CHECK (b > 0), up int REFERENCES public.d%s (id))', i, greatest(i - 1, 1));
      EXECUTE format('CREATE INDEX ON public.d%s (a)', i);
      EXECUTE format('INSERT INTO public.d%s (note) VALUES (''row'')', i);
      EXECUTE format('CREATE FUNCTION public.f%s() RETURNS int LANGUAGE sql AS ''select 1''', i);
      EXECUTE format('COMMENT ON FUNCTION public.f%s() IS ''f''', i);
      EXECUTE format('CREATE MATERIALIZED VIEW public.mv%s AS SELECT id, note FROM public.d%s', i, i);
      EXECUTE format('CREATE VIEW public.v%s AS SELECT id, a FROM public.d%s', i, i);
      EXECUTE format('CREATE TYPE public.e%s AS ENUM (''a'', ''b'')', i);
      EXECUTE format('CREATE DOMAIN public.dm%s AS int CHECK (VALUE > 0)', i);
      EXECUTE format('CREATE TRIGGER tg%s BEFORE UPDATE ON public.d%s FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()', i, i);
      FOR j IN 1..5 LOOP
        EXECUTE format('CREATE TRIGGER tgc%s_%s BEFORE UPDATE ON public.d%s FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()', i, j, i);
        EXECUTE format('COMMENT ON TRIGGER tgc%s_%s ON public.d%s IS ''commented''', i, j, i);
      END LOOP;
      EXECUTE format('CREATE RULE r%s AS ON DELETE TO public.v%s DO INSTEAD NOTHING', i, i);
      EXECUTE format('COMMENT ON RULE r%s ON public.v%s IS ''commented''', i, i);
      EXECUTE format('CREATE POLICY po%s ON public.d%s USING (true)', i, i);
      EXECUTE format('COMMENT ON POLICY po%s ON public.d%s IS ''commented''', i, i);
      EXECUTE format('CREATE STATISTICS public.st%s ON a, b FROM public.d%s', i, i);
      PERFORM lo_from_bytea(0, 'large object');
    END LOOP; END $$`);
    await c.query(`DO $$ DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('COMMENT ON LARGE OBJECT %s IS ''lo''', o); END LOOP; END $$`);
    await c.query(`CREATE TABLE public.p (id int, k int, note text) PARTITION BY RANGE (id); CREATE INDEX ON public.p (k)`);
    await c.query(`DO $$ BEGIN FOR i IN 1..${K} LOOP EXECUTE format('CREATE TABLE public.p%s PARTITION OF public.p FOR VALUES FROM (%s) TO (%s)', i, i * 10, i * 10 + 10); END LOOP; END $$`);
  });
  let dir: string;
  ({ storage, dir } = await tempStorage());
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
  m = JSON.parse(await readFile(path.join(dir, manifestKey(id)), 'utf8')) as Manifest;
}, 300_000);
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

describe('the lock estimate covers what an atomic restore holds', () => {
  it('fresh, then replace over it: the locks held never exceed the estimate the budget check used', async () => {
    const target = await createTestDatabase({ prefix: 'lbs' });
    dbs.push(target);
    const fresh = await restoreLockPeak(target.url, () => restoreBackup({ source: id, storage, targetUrl: target.url, mode: 'fresh', checkContent: true }));
    expect(fresh.samples).toBeGreaterThan(3);
    expect(fresh.peak).toBeLessThanOrEqual(locksNeeded(m));
    // A replace holds the locks of everything it drops (the target's objects) and of everything it creates.
    const dropping = await withClient(target.url, (c) => locksToDrop(c, m.source.schemas));
    const replace = await restoreLockPeak(target.url, () => restoreBackup({ source: id, storage, targetUrl: target.url, mode: 'replace', checkContent: true }));
    expect(replace.samples).toBeGreaterThan(3);
    expect(replace.peak).toBeLessThanOrEqual(locksNeeded(m) + dropping);
  }, 300_000);

  it('--into-schema of every table: the locks held never exceed the estimate its budget check used', async () => {
    const target = await createTestDatabase({ prefix: 'lbs' });
    dbs.push(target);
    const tables = m.tables.filter((t) => !t.dataExcluded).map((t) => `${t.schema}.${t.name}`);
    expect(tables.length).toBeGreaterThanOrEqual(2 * K);
    // What the planner runs: each chosen table's own definition, keys, CHECKs and indexes.
    const chosen = new Set(tables);
    const estimate = locksIntoSchema(m.entries, (e) => ['TABLE', 'CONSTRAINT', 'CHECK CONSTRAINT', 'INDEX'].includes(e.kind) && chosen.has(`${e.schema}.${e.kind === 'TABLE' ? e.name : e.table}`));
    const into = await restoreLockPeak(target.url, () => restoreBackup({ source: id, storage, targetUrl: target.url, intoSchema: 'copy', tables, checkContent: true }));
    expect(into.samples).toBeGreaterThan(3);
    expect(into.result.tables.length).toBe(tables.length);
    expect(into.peak).toBeGreaterThan(2 * K);
    expect(into.peak).toBeLessThanOrEqual(estimate);
  }, 300_000);

  it('a replace whose DROP alone overflows the lock table refuses before touching anything, never "out of shared memory"', async () => {
    // 300 tables of 50 defaulted columns: about 300 relations to the old count, but DROP ... CASCADE
    // locks each table, its row and array types and every one of its 15,000 column defaults.
    const target = await createTestDatabase({ prefix: 'lbs' });
    dbs.push(target);
    const cols = Array.from({ length: 50 }, (_, j) => `c${j} int DEFAULT ${j}`).join(', ');
    await withClient(target.url, async (c) => {
      await c.query(`DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('CREATE TABLE public.wide%s (${cols})', i); END LOOP; END $$`);
    });
    const err = await restoreBackup({ source: id, storage, targetUrl: target.url, mode: 'replace' }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    // Succeeding would be fine too (a server with a larger lock table); failing halfway is not.
    if (err) {
      expect(err.message).not.toMatch(/out of shared memory/);
      expect(err).toMatchObject({ code: 'conflict' });
      expect(err.message).toMatch(/set max_locks_per_transaction = \d+ on the target server/);
      // --jobs only fills an empty database: offered as a restore into a new one.
      expect(err.message).toContain('or restore into a new, empty database with --jobs 2');
      const left = await withClient(target.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'wide%' AND relnamespace = 'public'::regnamespace`)).rows[0].n);
      expect(left).toBe(300);
    }
  }, 300_000);
});
