import path from 'node:path';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, withClient, type TestDatabase } from '../helpers/db';
import { tempDir } from '../helpers/temp-dirs';
import { downloadArchive, gunzipIntoPsql } from './backup-test-helpers';
import { exec, scalar, tempStorage } from './restore-test-helpers';

// Settings a DBA gives a database or role (ALTER DATABASE/ROLE ... SET) reach every session of
// ours: on the source they must not change what the backup reads, on the target not change what
// the restore stores, and the content checks must not depend on them. Each case here changed rows
// or failed a check of identical data while the restore or drill said otherwise.
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
let dir: string;
let downloads: string;

async function db(prefix = 'hset'): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  ({ storage, dir } = await tempStorage());
  downloads = await tempDir('hset-download-');
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (downloads) await rm(downloads, { recursive: true, force: true });
});

/**
 * A table's rows as one canonical text, independent of the reading session's defaults: every
 * name schema-qualified (search_path ''), fixed date/interval/float/bytea forms, in text order.
 */
async function rowsOf(url: string, table: string): Promise<string> {
  return withClient(url, async (c) => {
    await c.query(
      `SELECT pg_catalog.set_config('search_path', '', false); SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = hex`,
    );
    return (await c.query<{ t: string | null }>(`SELECT pg_catalog.string_agg((x.*)::text, E'\\n' ORDER BY (x.*)::text) AS t FROM ${table} x`)).rows[0].t ?? '';
  });
}

async function setDatabase(d: TestDatabase, setting: string): Promise<void> {
  await exec(serverUrl(), `ALTER DATABASE "${d.name}" SET ${setting}`);
}

describe('a source database with its own search_path', () => {
  it('a schema before pg_catalog changes no row the backup reads: every row is backed up and reg* values name the same objects after restore and gunzip | psql', async () => {
    const src = await db();
    await exec(
      src.url,
      `CREATE SCHEMA app;
       -- Objects named like pg_catalog's, found first on the database's search_path.
       CREATE FUNCTION app.tid_ge(tid, tid) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT false';
       CREATE OPERATOR app.>= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = app.tid_ge);
       CREATE TABLE app.pg_am (id int);
       CREATE DOMAIN app.int4 AS bigint;
       CREATE FUNCTION app.lower(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1';
       CREATE TABLE public.things (id int);
       CREATE TABLE public.big (id int PRIMARY KEY, pad text NOT NULL);
       INSERT INTO public.big SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
       CREATE TABLE public.refs (id int PRIMARY KEY, c regclass, t regtype, p regprocedure, o regoperator, n regnamespace);
       INSERT INTO public.refs VALUES
         (1, 'app.pg_am', 'app.int4', 'app.lower(text)', 'app.>=(tid,tid)', 'app'),
         (2, 'pg_catalog.pg_am', 'pg_catalog.int4', 'pg_catalog.lower(text)', 'pg_catalog.>=(tid,tid)', 'pg_catalog'),
         (3, 'public.things', 'public.things', NULL, NULL, 'public');`,
    );
    await setDatabase(src, 'search_path = app, pg_catalog, public');
    const before = await rowsOf(src.url, 'public.refs');
    // Small chunks: public.big is read as several ctid ranges (WHERE ctid >= ...).
    const b = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public', 'app'], chunkBytes: 256 * 1024 });
    expect(b.manifest.tables.find((t) => t.name === 'big')?.rows).toBe(20000);

    const drill = await runDrill({ storage, id: b.id, serverUrl: serverUrl() });
    expect(drill.error).toBeNull();
    expect(drill.ok).toBe(true);

    const target = await db();
    await setDatabase(target, 'search_path = app, pg_catalog, public');
    await restoreBackup({ source: b.id, storage, targetUrl: target.url, checkContent: true });
    expect(await scalar(target.url, 'SELECT count(*)::int FROM public.big')).toBe(20000);
    expect(await rowsOf(target.url, 'public.refs')).toBe(before);

    const viaPsql = await db();
    const file = path.join(downloads, `${b.id}.sql.gz`);
    await downloadArchive(storage, b.id, file);
    await gunzipIntoPsql(file, viaPsql.url);
    expect(await scalar(viaPsql.url, 'SELECT count(*)::int FROM public.big')).toBe(20000);
    expect(await rowsOf(viaPsql.url, 'public.refs')).toBe(before);
  });
});

describe("a source database with bytea_output 'escape'", () => {
  it('the drill and restore --check-content (atomic and --jobs) pass, and the bytes are the source’s', async () => {
    const src = await db();
    await exec(
      src.url,
      `CREATE TABLE public.blobs (id int PRIMARY KEY, b bytea);
       INSERT INTO public.blobs VALUES (1, '\\x00ff5c0a0d09'), (2, 'plain'), (3, ''), (4, NULL);
       INSERT INTO public.blobs SELECT g, pg_catalog.decode(pg_catalog.md5(g::text), 'hex') FROM generate_series(5, 3000) g;`,
    );
    await setDatabase(src, `bytea_output = 'escape'`);
    const before = await rowsOf(src.url, 'public.blobs');
    const b = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' });

    const drill = await runDrill({ storage, id: b.id, serverUrl: serverUrl() });
    expect(drill.error).toBeNull();
    expect(drill.ok).toBe(true);

    const atomic = await db();
    const r = await restoreBackup({ source: b.id, storage, targetUrl: atomic.url, checkContent: true });
    expect(r.tables.find((t) => t.name === 'blobs')?.contentMatches).toBe(true);
    expect(await rowsOf(atomic.url, 'public.blobs')).toBe(before);

    const jobs = await db();
    await restoreParallel({ source: b.id, storage, targetUrl: jobs.url, jobs: 2, checkContent: true });
    expect(await rowsOf(jobs.url, 'public.blobs')).toBe(before);
  });
});

describe("a target database's defaults", () => {
  let id: string;
  let src: TestDatabase;
  beforeAll(async () => {
    src = await db();
    await exec(
      src.url,
      `CREATE TABLE public.arr (id int PRIMARY KEY, a text[], v varchar[]);
       INSERT INTO public.arr VALUES (1, '{NULL,a}', '{NULL}'), (2, '{"NULL",NULL}', '[0:1]={x,NULL}'), (3, '{}', '{{NULL,b},{c,NULL}}');
       CREATE MATERIALIZED VIEW public.arr_view AS SELECT id, a FROM public.arr;`,
    );
    id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
  });

  /** A target with array_nulls off and another default table access method (a heap under another name). */
  async function hostileTarget(): Promise<TestDatabase> {
    const t = await db();
    await exec(t.url, `CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler`);
    await setDatabase(t, 'array_nulls = off');
    await setDatabase(t, 'default_table_access_method = heap2');
    return t;
  }

  async function expectSameAsSource(t: TestDatabase, how: string): Promise<void> {
    expect(await rowsOf(t.url, 'public.arr'), `${how}: rows`).toBe(await rowsOf(src.url, 'public.arr'));
    const ams = await withClient(t.url, async (c) =>
      (await c.query<{ r: string }>(`SELECT c.relname || ' ' || a.amname AS r FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'm') ORDER BY 1`)).rows.map((x) => x.r),
    );
    expect(ams, `${how}: table access methods`).toEqual(['arr heap', 'arr_view heap']);
  }

  it('array_nulls off and default_table_access_method change nothing: the default (atomic) restore', async () => {
    const t = await hostileTarget();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await expectSameAsSource(t, 'atomic');
    // A data-only reload into the same target, whose sessions now default to array_nulls off.
    await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['arr'] });
    await expectSameAsSource(t, 'data-only');
  });

  it('... restore --jobs 2', async () => {
    const t = await hostileTarget();
    await restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2 });
    await expectSameAsSource(t, '--jobs 2');
  });

  it('... gunzip | psql', async () => {
    const t = await hostileTarget();
    const file = path.join(downloads, `${id}.sql.gz`);
    await downloadArchive(storage, id, file);
    await gunzipIntoPsql(file, t.url);
    await expectSameAsSource(t, 'gunzip | psql');
  });
});

describe("a target database's timeouts", () => {
  it('statement, lock and idle timeouts of a few milliseconds cut no restore short (atomic with --check-content, --jobs 2): psql restores under the archive header’s settings, so must we', async () => {
    const src = await db();
    // An index build and a content re-read that take far longer than the target's timeouts.
    await exec(
      src.url,
      `CREATE TABLE public.t (id int PRIMARY KEY, pad text NOT NULL);
       INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
       CREATE INDEX t_pad ON public.t (pad);`,
    );
    const before = await scalar<string>(src.url, `SELECT md5(string_agg(pad, ',' ORDER BY id)) FROM public.t`);
    const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' });
    for (const jobs of [1, 2]) {
      const t = await db();
      for (const s of [`statement_timeout = '10ms'`, `lock_timeout = '10ms'`, `idle_in_transaction_session_timeout = '100ms'`, `idle_session_timeout = '100ms'`]) await setDatabase(t, s);
      if (jobs === 1) await restoreBackup({ source: id, storage, targetUrl: t.url, checkContent: true });
      else await restoreParallel({ source: id, storage, targetUrl: t.url, jobs, checkContent: true });
      const after = await withClient(t.url, async (c) => {
        await c.query('SET statement_timeout = 0');
        return (await c.query<{ h: string }>(`SELECT md5(string_agg(pad, ',' ORDER BY id)) AS h FROM public.t`)).rows[0].h;
      });
      expect(after, `jobs ${jobs}`).toBe(before);
    }
  });
});
