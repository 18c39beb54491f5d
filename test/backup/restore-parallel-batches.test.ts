import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchLockLimit, readLockBudget } from '../../lib/backup/lock-budget';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { exec, hashesOf, restoreLockPeak, scalar, schemaOf, tempStorage } from './restore-test-helpers';

/**
 * `restore --jobs` on a catalog of many small tables (the 5,000-table case of issue 9, scaled down):
 * small tables load many to a transaction, and the SQL objects around them (definitions, keys,
 * indexes, foreign keys) run in batches, each transaction within its share of the target's lock
 * table. What it restores is exactly the source; a failing object is still named, and the target is
 * said to be partial.
 */
const TABLES = 240;
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'rpb' });
  dbs.push(d);
  return d;
}

const name = (i: number) => `t${String(i).padStart(4, '0')}`;

beforeAll(async () => {
  src = await db();
  // As scripts/catalog-scale-db.ts: a serial key, a foreign key to the previous table, an index, a TOASTable column.
  await exec(
    src.url,
    `DO $$ DECLARE i int; BEGIN FOR i IN 1..${TABLES} LOOP
       EXECUTE format('CREATE TABLE public.%I (id serial PRIMARY KEY, parent_id int%s, label text NOT NULL)', 't' || lpad(i::text, 4, '0'),
                      CASE WHEN i > 1 THEN format(' REFERENCES public.%I (id)', 't' || lpad((i - 1)::text, 4, '0')) ELSE '' END);
       EXECUTE format('CREATE INDEX ON public.%I (label)', 't' || lpad(i::text, 4, '0'));
       EXECUTE format('INSERT INTO public.%I (parent_id, label) SELECT CASE WHEN %s > 1 THEN g END, ''row '' || g FROM generate_series(1, 3) g', 't' || lpad(i::text, 4, '0'), i);
     END LOOP; END $$`,
  );
  ({ storage, dir } = await tempStorage());
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
}, 300_000);

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore --jobs of many small tables', () => {
  it('restores exactly, committing tables and objects in batches whose locks stay within the budget', async () => {
    const target = await db();
    const limit = await withClient(target.url, async (c) => batchLockLimit(await readLockBudget(c), 2));
    expect(limit).toBeGreaterThan(0);
    // The most locks any restore connection holds, sampled from another session while it runs.
    const { result, peak, samples } = await restoreLockPeak(target.url, () => restoreParallel({ source: id, storage, targetUrl: target.url, jobs: 2 }));
    expect(result.tables.filter((t) => t.rows === 3)).toHaveLength(TABLES);
    expect(samples).toBeGreaterThan(3);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(limit);
    expect(await schemaOf(target.url)).toBe(await schemaOf(src.url));
    expect(await hashesOf(target.url)).toEqual(await hashesOf(src.url));
    // Batches, not a transaction per object: the tables' catalog rows were last written by a few
    // transactions (their keys' batches), and all their rows by a few loads.
    const catalogXids = await scalar<number>(target.url, `SELECT count(DISTINCT xmin::text)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`);
    expect(catalogXids).toBeLessThan(TABLES / 10);
    const union = Array.from({ length: TABLES }, (_, i) => `SELECT xmin::text AS x FROM public.${name(i + 1)}`).join(' UNION ALL ');
    const dataXids = await scalar<number>(target.url, `SELECT count(DISTINCT x)::int FROM (${union}) u`);
    expect(dataXids).toBeLessThan(TABLES / 10);
  }, 300_000);

  it('splits a member over the budget (the OWNER member of every table) into batches within it', async () => {
    const target = await db();
    // 120 locks per transaction: less than the OWNER member of 240 tables and their sequences takes at once.
    const { result, peak } = await restoreLockPeak(target.url, () => restoreParallel({ source: id, storage, targetUrl: target.url, jobs: 2, maxBatchLocks: 120 }));
    expect(result.tables.filter((t) => t.rows === 3)).toHaveLength(TABLES);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(120);
    expect(await schemaOf(target.url)).toBe(await schemaOf(src.url));
  }, 300_000);

  /** A target whose event trigger refuses the DDL command after which `condition` holds; the --jobs restore into it fails. */
  async function refusedRestore(condition: string, refusal: string): Promise<{ target: TestDatabase; err: Error & { details?: unknown } }> {
    const target = await db();
    await exec(
      target.url,
      `CREATE SCHEMA side;
       CREATE FUNCTION side.refuse() RETURNS event_trigger LANGUAGE plpgsql AS $f$
         BEGIN IF ${condition} THEN RAISE EXCEPTION '${refusal}'; END IF; END $f$;
       CREATE EVENT TRIGGER refuse ON ddl_command_end EXECUTE FUNCTION side.refuse();`,
    );
    const err = await restoreParallel({ source: id, storage, targetUrl: target.url, jobs: 2 }).catch((e) => e);
    expect(err.message).toContain(refusal);
    expect(err.message).toContain('PARTLY restored');
    expect(err.details).toMatchObject({ rolledBack: false });
    return { target, err };
  }

  it('a failing object in a batch is named, and the target is said to be partial', async () => {
    // The target refuses one table's definition, in the middle of a pre-data batch ...
    const { target, err } = await refusedRestore(`EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.${name(100)}')`, `no ${name(100)} here`);
    expect(err.message).toContain(`TABLE public.${name(100)} (#`);
    // ... the objects before it in the archive were created (one by one after the batch failed), none after it.
    expect(await scalar<number>(target.url, `SELECT count(*)::int FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`)).toBe(99);
  }, 300_000);

  it('a failing foreign key is named', async () => {
    const { err } = await refusedRestore(`EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conname = '${name(200)}_parent_id_fkey')`, 'no foreign key here');
    expect(err.message).toContain(`FK CONSTRAINT public.${name(200)}_parent_id_fkey (#`);
  }, 300_000);
});
