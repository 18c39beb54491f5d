import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tamperMember, tempStorage } from './restore-test-helpers';
import { openStorage } from '../../lib/storage/open-storage';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { removeAtEnd } from '../helpers/temp-dirs';

// The atomic restore sends big tables as COPY BINARY, converted in our process (binary-copy.ts).
// What a user must see: the restored rows are exactly the backed-up rows (content fingerprints
// equal), the conversion really ran (binaryRows), a table with a type it does not handle loads as
// text, and a value it cannot convert (here: a column whose type the target changed) makes the
// rest of that table go as text — the restore still succeeds with the server's own parsing.

const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
const ROWS = 20_000;

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'rbc' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await db();
  await exec(
    src.url,
    `CREATE TABLE public.everything (id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, t text, vc varchar(40), j json, jb jsonb, u uuid,
       d date, ts timestamp, tstz timestamptz, ip inet, at text);
     SELECT setseed(0.7);
     INSERT INTO public.everything
       SELECT g, random() < 0.5, (random() * 65535 - 32768)::int2, (random() * 4e9 - 2e9)::int4,
              CASE WHEN g % 97 = 0 THEN NULL ELSE 'row ' || g || E' \\t tab \\\\ back \\n nl ሰላም ' || md5(g::text) END,
              substr(md5(g::text), 1, (g % 40)), json_build_object('g', g), jsonb_build_object('g', g, 's', E'q"\\\\' || g),
              gen_random_uuid(), date '2000-01-01' + (g * 37 % 800000 - 400000),
              timestamp '1960-01-01' + g * interval '1 hour 1 second 1 microsecond',
              timestamptz '2025-01-01 00:00:00+00' - g * interval '17 days 3 microseconds',
              CASE WHEN g % 3 = 0 THEN ('2001:db8::' || to_hex(g))::inet ELSE ('10.' || (g % 256) || '.' || (g / 256 % 256) || '.1/' || (8 + g % 24))::inet END,
              -- text that looks like a timestamptz: +00 except from row 5,000 on
              CASE WHEN g < 5000 THEN '2025-03-01 12:00:00+00' ELSE '2025-03-01 12:00:00+03' END
         FROM generate_series(1, ${ROWS}) g;
     CREATE TABLE public.with_numeric (id int8, price numeric(12, 2));
     INSERT INTO public.with_numeric SELECT g, g / 7.0 FROM generate_series(1, 60000) g;`,
  );
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
});

afterAll(async () => {
  delete process.env.TICKETHUB_RESTORE_COPY;
  for (const d of dbs) await d.drop();
});

describe('the atomic restore sends big tables as COPY BINARY', () => {
  it('restores every value exactly, converting the tables whose types it handles', async () => {
    const target = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: target.url, mode: 'fresh', checkContent: true });
    expect(r.tables.every((t) => t.contentMatches === true)).toBe(true);
    expect(await hashesOf(target.url)).toEqual(await hashesOf(src.url));
    // everything (20,000 rows) went binary; with_numeric (numeric: not converted) went as text.
    expect(r.binaryRows).toBe(ROWS);
  });

  it('restore --jobs 2 converts too: a table split in chunks over both connections, and whole tables with --check-content', async () => {
    // 2 MiB chunks: `everything` (~6 MiB of heap) becomes several members, each loaded on whichever connection is free.
    const split = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', chunkBytes: 2 * 1024 * 1024 });
    const m = JSON.parse(await readFile(path.join(dir, `${split.id}.manifest.json`), 'utf8')) as { entries: { kind: string; name: string }[] };
    expect(m.entries.filter((e) => e.kind === 'TABLE DATA' && e.name === 'everything').length).toBeGreaterThan(1);
    for (const checkContent of [false, true]) {
      const target = await db();
      const r = await restoreParallel({ source: split.id, storage, targetUrl: target.url, jobs: 2, checkContent });
      expect(r.binaryRows, `checkContent ${checkContent}`).toBe(ROWS);
      expect(r.tables.every((t) => t.contentMatches === (checkContent ? true : null))).toBe(true);
      expect(await hashesOf(target.url)).toEqual(await hashesOf(src.url));
    }
    process.env.TICKETHUB_RESTORE_COPY = 'text';
    try {
      const target = await db();
      expect((await restoreParallel({ source: split.id, storage, targetUrl: target.url, jobs: 2 })).binaryRows).toBe(0);
      expect(await hashesOf(target.url)).toEqual(await hashesOf(src.url));
    } finally {
      delete process.env.TICKETHUB_RESTORE_COPY;
    }
  });

  it('TICKETHUB_RESTORE_COPY=text turns it off', async () => {
    const target = await db();
    process.env.TICKETHUB_RESTORE_COPY = 'text';
    try {
      const r = await restoreBackup({ source: id, storage, targetUrl: target.url, mode: 'fresh' });
      expect(r.binaryRows).toBe(0);
    } finally {
      delete process.env.TICKETHUB_RESTORE_COPY;
    }
    expect(await hashesOf(target.url)).toEqual(await hashesOf(src.url));
  });

  it('sends the rest of a table as text from the first value it cannot convert, and the server parses it', async () => {
    // A copy of the backup whose `at` column is timestamptz on the target: rows before 5,000
    // print '+00' (converted), later ones '+03' (not what a UTC session prints: sent as text).
    // (The backup splits the table into chunks by pages: how many rows each sends binary depends on where they fall.)
    const tdir = removeAtEnd(`${dir}-retyped`);
    await cp(dir, tdir, { recursive: true });
    await tamperMember(tdir, id, (e) => e.kind === 'TABLE' && e.name === 'everything', (sql) => sql.replace(/\bat text\b/, 'at timestamp with time zone'));
    const target = await db();
    const r = await restoreBackup({ source: id, storage: openStorage(tdir), targetUrl: target.url, mode: 'fresh' });
    expect(r.binaryRows).toBeGreaterThan(0); // (the first test: all 20,000 rows convert when nothing stops them)
    expect(r.binaryRows).toBeLessThan(ROWS);
    expect(Number(await scalar(target.url, 'SELECT count(*) FROM public.everything'))).toBe(ROWS);
    expect(Number(await scalar(target.url, `SELECT count(*) FROM public.everything WHERE at = '2025-03-01 09:00:00+00'`))).toBe(ROWS - 4_999);
    expect(Number(await scalar(target.url, `SELECT count(*) FROM public.everything WHERE at = '2025-03-01 12:00:00+00'`))).toBe(4_999);
    expect(await scalar(target.url, `SELECT md5(string_agg(t || coalesce(ip::text, ''), ',' ORDER BY id)) FROM public.everything`)).toBe(
      await scalar(src.url, `SELECT md5(string_agg(t || coalesce(ip::text, ''), ',' ORDER BY id)) FROM public.everything`),
    );
  });

  it('a data-only restore into columns of other types gives what the text path gives: the same values or the same refusal', async () => {
    // The converter parses each value for the TARGET's type, strictly; the server's own parsing of
    // the text must agree on every value the converter takes, and refuse what it would refuse.
    const cases: { alter: string; ok: boolean; binary?: 'all' | 'none' }[] = [
      // text -> int4, uuid -> text, bool -> text, int8 -> int4 (every value fits): converted throughout.
      { alter: 'ALTER COLUMN num TYPE int4 USING num::int4, ALTER COLUMN u TYPE text, ALTER COLUMN flag TYPE text, ALTER COLUMN id TYPE int4', ok: true, binary: 'all' },
      // timestamptz -> timestamp: '+00' is not a timestamp as PostgreSQL prints it: the server parses the text.
      { alter: 'ALTER COLUMN at TYPE timestamp', ok: true, binary: 'none' },
      // int8 -> int4 with 3,000,000,000 in row 15,000; varchar(40) -> varchar(5) with a longer value in row 12,000.
      { alter: 'ALTER COLUMN big TYPE int4 USING 0', ok: false },
      { alter: 'ALTER COLUMN name TYPE varchar(5) USING NULL', ok: false },
      // text -> json (not JSON): the server's refusal.
      { alter: 'ALTER COLUMN tail TYPE json USING NULL', ok: false },
    ];
    const source = await db();
    await exec(
      source.url,
      `CREATE TABLE public.retype (id int8, num text, big int8, name varchar(40), at timestamptz, u uuid, flag bool, tail text);
       INSERT INTO public.retype
         SELECT g, (g * 7)::text, CASE WHEN g = 15000 THEN 3000000000 ELSE g END, CASE WHEN g = 12000 THEN 'a longer name' ELSE 'n' || (g % 1000) END,
                timestamptz '2025-01-01 00:00:00+00' + g * interval '1 minute', md5(g::text)::uuid, g % 2 = 0, repeat('x', 40)
           FROM generate_series(1, 30000) g`,
    );
    const sid = await backup(source.url, storage);
    for (const c of cases) {
      const results: { binaryRows: number; error: string | null; hashes: unknown }[] = [];
      for (const copy of ['binary', 'text']) {
        const target = await db();
        await restoreBackup({ source: sid, storage, targetUrl: target.url, mode: 'fresh' });
        await exec(target.url, `ALTER TABLE public.retype ${c.alter}`);
        const before = await hashesOf(target.url);
        if (copy === 'text') process.env.TICKETHUB_RESTORE_COPY = 'text';
        try {
          const r = await restoreBackup({ source: sid, storage, targetUrl: target.url, mode: 'data-only', tables: ['retype'] });
          results.push({ binaryRows: r.binaryRows ?? 0, error: null, hashes: await hashesOf(target.url) });
        } catch (err) {
          expect(await hashesOf(target.url), c.alter).toEqual(before); // rolled back
          results.push({ binaryRows: -1, error: (err as Error).message, hashes: before });
        } finally {
          delete process.env.TICKETHUB_RESTORE_COPY;
        }
      }
      const [bin, text] = results;
      expect(bin.error, c.alter).toEqual(text.error);
      expect(bin.hashes, c.alter).toEqual(text.hashes);
      expect(bin.error === null, c.alter).toBe(c.ok);
      if (c.ok) expect(bin.binaryRows, c.alter).toBe(c.binary === 'all' ? 30_000 : 0);
    }
  });
});
