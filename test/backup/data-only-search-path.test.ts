import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { psqlFile, serverMajor } from '../helpers/schema-round-trip';
import { tableHashes } from '../helpers/table-hashes';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// A data-only reload into tables whose indexes, CHECKs (of the table or of a domain), generated
// columns or partition keys run a routine that finds its objects through the search_path (no SET
// search_path of its own, a body that is not SQL-standard) failed on the first row: "function
// sp18_norm(text) does not exist — rolled back" (the restore's session runs under search_path '').
// The reload now gives the target's such routines its sessions' search_path while the rows load,
// and takes it back before COMMIT.

const dbs: TestDatabase[] = [];
const stores: StorageBackend[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

const settings = (url: string) =>
  withClient(url, async (c) => (await c.query(`SELECT p.oid::regprocedure::text AS f, p.proconfig FROM pg_proc p WHERE p.pronamespace IN ('public'::regnamespace, 'sp17'::regnamespace, 'sp18'::regnamespace) ORDER BY 1`)).rows);

/** A database with nasty-held-out-17.sql and -18.sql, and a backup of it. */
async function backedUpFixtures() {
  const db = await createTestDatabase({ prefix: 'dosp' });
  dbs.push(db);
  await psqlFile(db.url, path.resolve(import.meta.dirname, '../fixtures/nasty-held-out-17.sql'));
  await psqlFile(db.url, path.resolve(import.meta.dirname, '../fixtures/nasty-held-out-18.sql'));
  const { storage } = await tempStorage();
  stores.push(storage);
  const schemas = ['public', 'sp17', 'sp18'];
  const { id } = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', schemas, excludeTableData: [] });
  return { db, storage, id, schemas };
}

it('reloads tables whose indexes, table and domain CHECKs, generated columns and partition keys run such routines; the routines keep their settings; said in the plan', async () => {
  const { db, storage, id, schemas } = await backedUpFixtures();
  const before = { rows: await tableHashes(db.url, schemas), settings: await settings(db.url) };
  // What the reload must undo.
  await exec(
    db.url,
    `DELETE FROM ONLY sp17.fares WHERE id > 250; UPDATE ONLY sp17.fares SET route = 'Changed ' || id WHERE id < 5;
     DELETE FROM ONLY sp18.stops WHERE id = 4; UPDATE ONLY sp18.stops SET name = 'Mekelle' WHERE id = 3;
     DELETE FROM sp18.trips WHERE id % 5 = 0;`,
  );
  const plans: string[][] = [];
  const tables = ['sp17.fares', 'sp17.legs_2026', 'sp18.stops', 'sp18.old_stops', 'sp18.trips_0', 'sp18.trips_1', 'sp18.trips_2_add', 'sp18.trips_2_other'];
  const r = await restoreBackup({ source: id, storage, targetUrl: db.url, mode: 'data-only', tables, checkContent: true, onPlan: (p) => plans.push(p.actions) });
  expect(r.tables.map((t) => [`${t.schema}.${t.name}`, t.rows === t.expectedRows, t.contentMatches]).sort()).toEqual(tables.sort().map((t) => [t, true, true]));
  expect(plans[0]).toEqual(expect.arrayContaining([expect.stringMatching(/^run \d+ routines \(public\."sp18 Weird\(name"\(text\), .+\), which find their objects through the search_path, with the target's \("\$user", public\) while the rows load, as its sessions do$/)]));
  expect(await tableHashes(db.url, schemas)).toEqual(before.rows);
  expect(await settings(db.url)).toEqual(before.settings);
  // The generated columns were computed again, as the source computes them.
  const stops = await withClient(db.url, async (c) => (await c.query(`SELECT id, slug, code, tag, wcode FROM sp18.stops ORDER BY id`)).rows);
  expect(stops[2]).toEqual({ id: 3, slug: 'gondar', code: 'GON', tag: 'gondar!', wcode: 'GON' });
  if ((await serverMajor(db.url)) < 17) {
    // The index over such a routine answers for the reloaded rows.
    const hit = await withClient(db.url, async (c) => (await c.query(`SET enable_seqscan = off; SELECT id FROM sp18.stops WHERE public.sp18_slug(name) = 'dire-dawa'`)) as unknown as { rows: { id: number }[] }[]);
    expect(hit[1].rows).toEqual([{ id: 4 }]);
  }
}, 300_000);

it('--into-schema copies of such tables are created and loaded (their generated columns, CHECKs and indexes call the live routines); the routines keep their settings', async () => {
  const { db, storage, id } = await backedUpFixtures();
  const before = await settings(db.url);
  const plans: string[][] = [];
  const r = await restoreBackup({ source: id, storage, targetUrl: db.url, intoSchema: 'copy18', tables: ['sp17.fares', 'sp18.stops', 'sp18.trips_1'], checkContent: true, onPlan: (p) => plans.push(p.actions) });
  expect(r.tables.map((t) => [t.name, t.rows, t.contentMatches]).sort()).toEqual([['fares', 300, true], ['stops', 4, true], ['trips_1', 40, true]]);
  expect(plans[0].some((l) => /^run \d+ routines .* with the target's/.test(l))).toBe(true);
  expect(await settings(db.url)).toEqual(before);
  const copied = await withClient(db.url, async (c) => (await c.query(`SELECT id, slug, code, tag, wcode FROM copy18.stops ORDER BY id`)).rows);
  expect(copied).toEqual(await withClient(db.url, async (c) => (await c.query(`SELECT id, slug, code, tag, wcode FROM ONLY sp18.stops ORDER BY id`)).rows));
}, 300_000);

it('a routine the restoring role may not alter is left alone: the reload fails naming the cause, rolled back', async () => {
  const db = await createTestDatabase({ prefix: 'dosp' });
  dbs.push(db);
  await exec(
    db.url,
    `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dosp_loader') THEN CREATE ROLE dosp_loader LOGIN; END IF; END $$;
     ALTER ROLE dosp_loader PASSWORD 'dosp-loader-test-only';
     CREATE SCHEMA dsp;
     CREATE FUNCTION public.dsp_norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;
     CREATE FUNCTION public.dsp_slug(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT dsp_norm(t) || '-x' $$;
     CREATE TABLE dsp.posts (id int PRIMARY KEY, title text, slug text GENERATED ALWAYS AS (public.dsp_slug(title)) STORED);
     INSERT INTO dsp.posts (id, title) VALUES (1, 'A'), (2, 'B');
     ALTER TABLE dsp.posts OWNER TO dosp_loader;
     GRANT USAGE, CREATE ON SCHEMA dsp TO dosp_loader;`,
  );
  const { storage } = await tempStorage();
  stores.push(storage);
  const { id } = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', schemas: ['dsp'], excludeTableData: [] });
  await exec(db.url, `DELETE FROM dsp.posts WHERE id = 2`);
  const asLoader = new URL(db.url);
  asLoader.username = 'dosp_loader';
  asLoader.password = 'dosp-loader-test-only';
  const plans: string[][] = [];
  await expect(restoreBackup({ source: id, storage, targetUrl: asLoader.toString(), mode: 'data-only', tables: ['dsp.posts'], onPlan: (p) => plans.push(p.actions) })).rejects.toThrow(/function dsp_norm\(text\) does not exist.*rolled back/);
  // Said in the plan, before anything ran.
  expect(plans[0]).toEqual(expect.arrayContaining([expect.stringMatching(/^leave public\.dsp_slug\(text\) as it is: it finds its objects through the search_path and this role may not alter it .*reload as its owner or give it a search_path/)]));
  expect(plans[0].some((l) => l.startsWith('run '))).toBe(false);
  expect(await withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM dsp.posts`)).rows[0].n)).toBe(1);
}, 300_000);
