import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, withClient } from '../helpers/db';
import { exec } from './restore-test-helpers';
import { downloadArchive, gunzipIntoPsql } from './backup-test-helpers';
import { roundTripEveryPath } from './every-path';
import { runBackup } from '../../lib/backup/run-backup';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { openStorage } from '../../lib/storage/open-storage';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: a PRIMARY KEY / UNIQUE constraint keeps its index storage parameters (with INCLUDE and DEFERRABLE), and more held-out shapes (test/fixtures/nasty-held-out-3.sql)', async () => {
  const { source } = await roundTripEveryPath('nasty-held-out-3.sql', ['s1', 's2', 's3'], cleanup);
  await withClient(source.url, async (c) => {
    // The fixture holds what it is about: constraint indexes with storage parameters.
    const opts = (await c.query(`SELECT c.relname || '=' || array_to_string(c.reloptions, ',') AS o FROM pg_constraint k JOIN pg_class c ON c.oid = k.conindid WHERE k.contype IN ('p', 'u') AND c.reloptions IS NOT NULL ORDER BY 1`)).rows.map((r) => r.o);
    expect(opts).toEqual(['ex2u=fillfactor=40,deduplicate_items=off', 'idx_pk=fillfactor=80', 'pk x=fillfactor=99']);
  });
}, 300_000);

it('a materialized view whose owner may not read what it selects (REFRESH fails in the source too): every restore path loads the rest and says which view is left unpopulated and why; the drill fails on it', async () => {
  const db = async () => {
    const d = await createTestDatabase({ prefix: 'mvpriv' });
    cleanup.push(() => d.drop());
    return d;
  };
  const src = await db();
  await exec(
    src.url,
    `DO $$BEGIN CREATE ROLE nho3_mv_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$;
     CREATE TABLE public.secret (a int); INSERT INTO public.secret SELECT generate_series(1, 5);
     CREATE MATERIALIZED VIEW public.mv AS SELECT a FROM public.secret;
     ALTER MATERIALIZED VIEW public.mv OWNER TO nho3_mv_owner;
     CREATE TABLE public.other (b text); INSERT INTO public.other VALUES ('kept');
     CREATE MATERIALIZED VIEW public.fine AS SELECT b FROM public.other;`,
  );
  // The source's own REFRESH fails the same way: this is the state the backup has to carry.
  await expect(exec(src.url, `SET ROLE nho3_mv_owner; REFRESH MATERIALIZED VIEW public.mv`)).rejects.toThrow(/permission denied/);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mv-priv-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = openStorage(path.join(dir, 'store'));
  cleanup.push(() => storage.close());
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'], excludeTableData: [] });

  const state = (url: string) =>
    withClient(url, async (c) => ({
      populated: (await c.query(`SELECT relname || '=' || relispopulated AS p FROM pg_class WHERE relkind = 'm' ORDER BY 1`)).rows.map((r) => r.p),
      rows: (await c.query(`SELECT (SELECT count(*) FROM public.secret)::int AS s, (SELECT string_agg(b, ',') FROM public.fine) AS f`)).rows[0],
    }));
  const expected = { populated: ['fine=true', 'mv=false'], rows: { s: 5, f: 'kept' } };
  const warning = /^materialized view public\.mv left unpopulated: its owner nho3_mv_owner may not read what it selects.*REFRESH MATERIALIZED VIEW public\.mv$/;

  const ours = await db();
  const r = await restoreBackup({ source: id, storage, targetUrl: ours.url, mode: 'fresh' });
  expect(r.warnings).toHaveLength(1);
  expect(r.warnings[0]).toMatch(warning);
  expect(await state(ours.url)).toEqual(expected);

  const jobs = await db();
  const rj = await restoreParallel({ source: id, storage, targetUrl: jobs.url, jobs: 2 });
  expect(rj.warnings).toHaveLength(1);
  expect(rj.warnings[0]).toMatch(warning);
  expect(await state(jobs.url)).toEqual(expected);

  const file = path.join(dir, `${id}.sql.gz`);
  await downloadArchive(storage, id, file);
  const viaPsql = await db();
  await gunzipIntoPsql(file, viaPsql.url);
  expect(await state(viaPsql.url)).toEqual(expected);

  const drill = await runDrill({ storage, id, serverUrl: serverUrl() });
  expect(drill.ok).toBe(false);
  expect(drill.error).toMatch(warning);

  // Once the owner may read its source, the same kind of backup restores populated and drills clean.
  await exec(src.url, `GRANT SELECT ON public.secret TO nho3_mv_owner`);
  const again = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'], excludeTableData: [] });
  const fixed = await db();
  const rf = await restoreBackup({ source: again.id, storage, targetUrl: fixed.url, mode: 'fresh' });
  expect(rf.warnings).toEqual([]);
  expect((await state(fixed.url)).populated).toEqual(['fine=true', 'mv=true']);
  expect((await runDrill({ storage, id: again.id, serverUrl: serverUrl() })).ok).toBe(true);
}, 300_000);
