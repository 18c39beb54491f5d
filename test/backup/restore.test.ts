import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { archiveKey } from '../../lib/backup/manifest';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, schemaOf, seedTicketHub, tempStorage } from './restore-test-helpers';

// Every restore mode on the TicketHub demo data, from a real engine backup; the oracle is the
// source database at backup time (per-table order-independent hashes + pg_dump --schema-only on
// PG15 / the catalog fingerprint on PG17).
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
let srcSchema: string;
const dbs: TestDatabase[] = [];
const EMPTY = 'd41d8cd98f00b204e9800998ecf8427e';

async function db(migrate = false): Promise<TestDatabase> {
  const d = await createTestDatabase({ migrate, prefix: 'rst' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await db(true);
  await seedTicketHub(src.url, 400);
  ({ storage, dir } = await tempStorage());
  // The oracle is the source as the backup saw it: taken before the engine records its own run
  // (activity_logs row, backup_runs row — whose data backups exclude by design).
  srcHashes = await hashesOf(src.url);
  srcHashes['public.backup_runs'] = { rows: 0, hash: EMPTY };
  srcSchema = await schemaOf(src.url);
  id = await backup(src.url, storage);
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restoreBackup on TicketHub demo data', () => {
  it('fresh: an empty database becomes exactly the source, with sequences at their backed-up values', async () => {
    const t = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'fresh' });
    expect(r.committed).toBe(true);
    // By default the rows are counted by the server (COPY), the content is not re-read (the oracle below checks it).
    expect(r.tables.every((x) => x.contentMatches === null && x.rows === x.expectedRows)).toBe(true);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
    expect(await scalar(t.url, `SELECT last_value FROM public.tickets_id_seq`)).toEqual(await scalar(src.url, `SELECT last_value FROM public.tickets_id_seq`));
  });

  it('fresh with --jobs 2 (parallel, not atomic) gives the same database', async () => {
    const t = await db();
    const r = await restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2, checkContent: true });
    expect(r.tables.every((x) => x.contentMatches === true)).toBe(true);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('fresh: refuses a non-empty target with one line naming what is there, and changes nothing', async () => {
    const t = await db();
    await exec(t.url, 'CREATE TABLE public.keepme (x int); INSERT INTO public.keepme VALUES (1)');
    await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/not empty: it has table public\.keepme/) });
    expect(await hashesOf(t.url)).toEqual({ 'public.keepme': expect.objectContaining({ rows: 1 }) });
  });

  it('replace: a damaged database ends exactly as at backup time; other schemas untouched', async () => {
    const t = await db();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await exec(
      t.url,
      `DELETE FROM public.tickets WHERE id % 3 = 0;
       UPDATE public.trips SET origin = 'Nowhere' WHERE id < 5;
       CREATE TABLE public.stray (x int);
       CREATE FUNCTION public.stray_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
       ALTER TABLE public.trips ADD COLUMN extra text;
       CREATE SCHEMA other; CREATE TABLE other.notes (n text); INSERT INTO other.notes VALUES ('keep');`,
    );
    const otherBefore = await hashesOf(t.url, ['other']);
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'replace' });
    expect(r.plan.actions.join('\n')).toMatch(/drop every object of schema public/);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await hashesOf(t.url, ['other'])).toEqual(otherBefore);
    await exec(t.url, 'DROP SCHEMA other CASCADE'); // the oracle dumps the whole database
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('replace: refuses when objects outside the backup depend on it', async () => {
    const t = await db();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await exec(t.url, `CREATE SCHEMA reporting; CREATE VIEW reporting.trip_count AS SELECT count(*) FROM public.trips`);
    await expect(restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'replace' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/reporting\.trip_count/) });
    expect(await scalar(t.url, `SELECT count(*)::int FROM reporting.trip_count`)).toBeGreaterThan(0);
  });

  it('data-only: reloads the chosen table only; refuses (naming them) rows of other tables that would lose their parent', async () => {
    const t = await db();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await exec(t.url, `DELETE FROM public.notifications WHERE id % 2 = 0; UPDATE public.telegram_channels SET title = 'changed'`);
    const before = await hashesOf(t.url);
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['notifications'] });
    expect(r.tables.map((x) => x.name)).toEqual(['notifications']);
    const after = await hashesOf(t.url);
    expect(after['public.notifications']).toEqual(srcHashes['public.notifications']);
    expect(after['public.telegram_channels']).toEqual(before['public.telegram_channels']);
    expect(after['public.telegram_channels']).not.toEqual(srcHashes['public.telegram_channels']);

    // A receipt added after the backup, with a ticket: reloading receipts would orphan the ticket.
    await exec(
      t.url,
      `INSERT INTO public.receipts (telegram_user_id, trip_id, amount_etb, payment_method, payment_reference)
         SELECT telegram_user_id, trip_id, 1, 'cash', 'after-backup' FROM public.receipts LIMIT 1;
       INSERT INTO public.tickets (receipt_id, trip_id, telegram_user_id, seat_number, passenger_name, ticket_code, status)
         SELECT id, trip_id, telegram_user_id, 99, 'Late', 'TH-LATE0001', 'cancelled' FROM public.receipts WHERE payment_reference = 'after-backup';`,
    );
    const dirty = await hashesOf(t.url);
    await expect(restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['receipts'] })).rejects.toMatchObject({
      message: expect.stringMatching(/1 row\(s\) of public\.tickets \(constraint tickets_receipt_id_fkey\).*rolled back: target unchanged/),
    });
    expect(await hashesOf(t.url)).toEqual(dirty);
    expect(await schemaOf(t.url)).toEqual(srcSchema); // the dropped-and-readded FK is back

    // --cascade reloads the referencing tables too.
    const c = await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['receipts'], cascade: true });
    expect(c.plan.actions.join('\n')).toMatch(/also reload public\.tickets/);
    const fin = await hashesOf(t.url);
    for (const k of ['public.receipts', 'public.tickets', 'public.approvals']) expect(fin[k]).toEqual(srcHashes[k]);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('into-schema: the chosen tables appear in a new schema next to the live data', async () => {
    const t = await db();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await exec(t.url, `DELETE FROM public.trips WHERE id NOT IN (SELECT trip_id FROM public.receipts UNION SELECT trip_id FROM public.tickets)`);
    const live = await hashesOf(t.url);
    await restoreBackup({ source: id, storage, targetUrl: t.url, intoSchema: 'recovered', tables: ['trips', 'public.tickets'] });
    const rec = await hashesOf(t.url, ['recovered']);
    expect(rec).toEqual({ 'recovered.trips': srcHashes['public.trips'], 'recovered.tickets': srcHashes['public.tickets'] });
    expect(await hashesOf(t.url)).toEqual(live);
    await expect(restoreBackup({ source: id, storage, targetUrl: t.url, intoSchema: 'recovered', tables: ['trips'] })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/schema recovered already exists/) });
  });

  it('refuses a corrupted archive (flipped byte: rolled back; truncation: before touching the target), target unchanged', async () => {
    const t = await db();
    const file = path.join(dir, archiveKey(id));
    const good = await readFile(file);
    try {
      const bad = Buffer.from(good);
      bad[Math.floor(bad.length / 2)] ^= 0x10;
      await writeFile(file, bad);
      await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/SHA-256 does not match/) });
      await writeFile(file, good.subarray(0, good.length - 100));
      await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/truncated/) });
      expect(await hashesOf(t.url)).toEqual({});
    } finally {
      await writeFile(file, good);
    }
  });

  it('refuses a missing id, an unreachable target and a backup newer than the app', async () => {
    const t = await db();
    await expect(restoreBackup({ source: '20200101T000000Z-nosuch', storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'not_found' });
    await expect(restoreBackup({ source: id, storage, targetUrl: 'postgres://postgres@127.0.0.1:1/x' })).rejects.toMatchObject({ code: 'db_unreachable' });
    const mf = path.join(dir, `${id}.manifest.json`);
    const orig = await readFile(mf, 'utf8');
    try {
      const m = JSON.parse(orig);
      m.app.migration = '999_future';
      await writeFile(mf, JSON.stringify(m));
      await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'incompatible', message: expect.stringMatching(/999_future.*--force/) });
      m.formatVersion = 99;
      await writeFile(mf, JSON.stringify(m));
      await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'incompatible', message: expect.stringMatching(/unknown archive format version 99/) });
    } finally {
      await writeFile(mf, orig);
    }
    expect(await hashesOf(t.url)).toEqual({});
  });
});
