import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { restoreLockPeak, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { inheritanceTreeSize, locksToReload } from '../../lib/backup/lock-budget';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * A data-only restore is ONE transaction too: it locks every reloaded table, TRUNCATE locks each
 * one's indexes and TOAST relations, and every foreign key touching them is dropped (its constraint
 * and triggers locked) and re-added. `--tables hub --cascade` on a hub that many tables reference
 * reloads them all: it must fit the target's lock table or refuse before touching anything, naming
 * the setting — never fail with "out of shared memory" after emptying half the tables.
 */
const TABLES = 150;
const FKS = 20;
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let id: string;

const rowsOf = (url: string) =>
  withClient(url, async (c) => (await c.query(`SELECT (SELECT count(*) FROM public.hub)::int AS hub, (SELECT sum(x) FROM (SELECT count(*) AS x FROM public.r1 UNION ALL SELECT count(*) FROM public.r${TABLES}) y)::int AS r`)).rows[0]);

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'lbd' });
  dbs.push(src);
  // A hub referenced by 150 tables, each by 20 foreign keys: 3,000 foreign keys to drop and re-add.
  const cols = Array.from({ length: FKS }, (_, j) => `h${j} int REFERENCES public.hub (id)`).join(', ');
  const vals = Array.from({ length: FKS }, () => '1').join(', ');
  await withClient(src.url, async (c) => {
    await c.query(`CREATE TABLE public.hub (id int PRIMARY KEY, note text); INSERT INTO public.hub VALUES (1, 'one'), (2, 'two')`);
    // 25 tables (500 foreign keys) per transaction: the test cluster's lock table is shared with the
    // test file running beside this one (one transaction for all 150 held ~5,000 of its 7,808 entries).
    for (let from = 1; from <= TABLES; from += 25) {
      await c.query(`DO $$ BEGIN FOR i IN ${from}..${Math.min(TABLES, from + 24)} LOOP
        EXECUTE format('CREATE TABLE public.r%s (id serial PRIMARY KEY, note text, ${cols})', i);
        EXECUTE format('INSERT INTO public.r%s (note, ${Array.from({ length: FKS }, (_, j) => `h${j}`).join(', ')}) VALUES (''x'', ${vals})', i);
      END LOOP; END $$`);
    }
  });
  // An inheritance parent with 300 children: LOCK TABLE (without ONLY) locks every one of them.
  await withClient(src.url, async (c) => {
    await c.query(`CREATE TABLE public.inh (id int, note text); INSERT INTO public.inh VALUES (1, 'parent row')`);
    await c.query(`DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('CREATE TABLE public.inh%s () INHERITS (public.inh)', i); END LOOP; END $$`);
  });
  ({ storage } = await tempStorage());
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
  // The live database moves on: a row more in the hub and in two referencing tables.
  await withClient(src.url, async (c) => {
    await c.query(`INSERT INTO public.hub VALUES (3, 'three'); INSERT INTO public.r1 (note, h0) VALUES ('new', 3); INSERT INTO public.r${TABLES} (note, h0) VALUES ('new', 3)`);
  });
}, 300_000);
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

describe('data-only restore of many tables on stock lock settings', () => {
  it('--tables hub --cascade reloads every referencing table, or refuses before touching anything naming the setting; never "out of shared memory"', async () => {
    const before = await rowsOf(src.url);
    const err = await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['hub'], cascade: true }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    if (err) {
      expect(err.message).not.toMatch(/out of shared memory/);
      expect(err).toMatchObject({ code: 'conflict' });
      expect(err.message).toMatch(/set max_locks_per_transaction = \d+ on the target server/);
      expect(err.message).toContain('nothing was changed');
      expect(await rowsOf(src.url)).toEqual(before);
    } else {
      expect(await rowsOf(src.url)).toEqual({ hub: 2, r: 2 });
    }
  }, 300_000);

  it('--tables hub alone (no --cascade) still drops and re-adds its 3,000 foreign keys: refused the same way, without offering fewer tables', async () => {
    const before = await rowsOf(src.url);
    const err = await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['hub'] }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    if (err) {
      expect(err.message).not.toMatch(/out of shared memory/);
      expect(err).toMatchObject({ code: 'conflict' });
      expect(err.message).toMatch(/set max_locks_per_transaction = \d+ on the target server and restart it; nothing was changed/);
      expect(await rowsOf(src.url)).toEqual(before);
    }
  }, 300_000);

  it('a data-only reload that fits is not refused, and holds no more locks than the estimate', async () => {
    const oids = await withClient(src.url, async (c) => (await c.query(`SELECT ARRAY['public.r1'::regclass::oid, 'public.r${TABLES}'::regclass::oid]::int8[] AS o`)).rows[0].o.map(Number));
    const estimate = await withClient(src.url, (c) => locksToReload(c, oids));
    const { hub } = await rowsOf(src.url);
    const { peak } = await restoreLockPeak(src.url, () => restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['r1', `r${TABLES}`], checkContent: true }));
    // (Reloading the hub itself, even without --cascade, drops and re-adds its 3,000 foreign keys.)
    expect(await rowsOf(src.url)).toEqual({ hub, r: 2 });
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(estimate);
  }, 300_000);

  it('reloading an inheritance parent counts the children its LOCK TABLE locks', async () => {
    const oids = await withClient(src.url, async (c) => (await c.query(`SELECT ARRAY['public.inh'::regclass::oid]::int8[] AS o`)).rows[0].o.map(Number));
    const estimate = await withClient(src.url, (c) => locksToReload(c, oids));
    const { peak } = await restoreLockPeak(src.url, () => restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['inh'], checkContent: true }));
    expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ONLY public.inh`)).rows[0].n)).toBe(1);
    expect(peak).toBeGreaterThan(300);
    expect(peak).toBeLessThanOrEqual(estimate);
  }, 300_000);

  it('reloading one child sets aside a NOT VALID CHECK it inherits on the parent, locking all 300 siblings: counted', async () => {
    await withClient(src.url, (c) => c.query(`ALTER TABLE public.inh ADD CONSTRAINT inh_new_rows CHECK (id > 0) NOT VALID`));
    try {
      const [child, parent] = await withClient(src.url, async (c) => (await c.query(`SELECT ARRAY['public.inh7'::regclass::oid, 'public.inh'::regclass::oid]::int8[] AS o`)).rows[0].o.map(Number));
      const tablesOnly = await withClient(src.url, (c) => locksToReload(c, [child]));
      const estimate = tablesOnly + (await withClient(src.url, (c) => inheritanceTreeSize(c, [parent])));
      const plans: string[][] = [];
      const { peak } = await restoreLockPeak(src.url, () => restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['inh7'], onPlan: (p) => plans.push(p.actions) }));
      expect(plans[0]).toContain('set aside NOT VALID CHECK inh_new_rows of public.inh while the rows load (they were never checked against it), then add it back NOT VALID');
      expect(peak).toBeGreaterThan(tablesOnly);
      expect(peak).toBeLessThanOrEqual(estimate);
      expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'inh_new_rows' AND NOT convalidated`)).rows[0].n)).toBe(301);
    } finally {
      await withClient(src.url, (c) => c.query(`ALTER TABLE public.inh DROP CONSTRAINT inh_new_rows`));
    }
  }, 300_000);
});
