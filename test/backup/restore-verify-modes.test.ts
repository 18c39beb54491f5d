import { cp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, hashesOf, seedTicketHub, tamperMember, tempStorage } from './restore-test-helpers';

// What each restore mode proves (issue 9, "Restore speed: a product decision"): by default a
// restore verifies what it loads AS it loads it — every member's SHA-256 and every table's row
// count as the SERVER counted it (the COPY command tag) — before COMMIT; the full re-read of every
// table's content is `checkContent` (restore --check-content), always on in drills.
//
// The two tampered backups below make the server store something other than what was sent: a
// BEFORE INSERT trigger on the target's trips table (planted through the table's own pre-data
// member, every checksum fixed up, so verify cannot see it) that either alters a value (same row
// count: only a re-read can tell) or drops rows (the COPY count tells at once).
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'rvm' });
  dbs.push(d);
  return d;
}

/** A copy of the backup whose trips table gets a BEFORE INSERT trigger with `body` (plpgsql). */
async function withTrigger(name: string, body: string): Promise<{ storage: StorageBackend; dir: string }> {
  const tdir = `${dir}-${name}`;
  await cp(dir, tdir, { recursive: true });
  await tamperMember(
    tdir,
    id,
    (e) => e.kind === 'TABLE' && e.name === 'trips',
    (sql) =>
      `${sql}\nCREATE FUNCTION public.${name}() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN ${body} END $fn$;\nCREATE TRIGGER ${name} BEFORE INSERT ON public.trips FOR EACH ROW EXECUTE FUNCTION public.${name}();\n`,
  );
  return { storage: openStorage(tdir), dir: tdir };
}

let altered: { storage: StorageBackend; dir: string };
let dropped: { storage: StorageBackend; dir: string };

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'rvm' });
  dbs.push(src);
  await seedTicketHub(src.url, 100);
  ({ storage, dir } = await tempStorage());
  srcHashes = await hashesOf(src.url);
  srcHashes['public.backup_runs'] = { rows: 0, hash: 'd41d8cd98f00b204e9800998ecf8427e' };
  id = await backup(src.url, storage);
  altered = await withTrigger('alter_origin', `NEW.origin := NEW.origin || ' (altered)'; RETURN NEW;`);
  dropped = await withTrigger('drop_even', `IF NEW.id % 2 = 0 THEN RETURN NULL; END IF; RETURN NEW;`);
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  for (const s of [storage, altered?.storage, dropped?.storage]) await s?.close();
  for (const d of [dir, altered?.dir, dropped?.dir]) if (d) await rm(d, { recursive: true, force: true });
});

describe('what a restore proves, per mode', () => {
  it('default (atomic and --jobs 2): member SHA-256 and server row counts verified, no content re-read; the data is exact', async () => {
    const t = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url });
    expect(r.checked).toEqual({ memberSha256: true, rowCounts: true, content: false });
    expect(r.tables.length).toBeGreaterThan(9);
    expect(r.tables.every((x) => x.contentMatches === null && x.rows === x.expectedRows)).toBe(true);
    expect(await hashesOf(t.url)).toEqual(srcHashes);

    const t2 = await db();
    const p = await restoreParallel({ source: id, storage, targetUrl: t2.url, jobs: 2 });
    expect(p.checked).toEqual({ memberSha256: true, rowCounts: true, content: false });
    expect(p.tables.every((x) => x.contentMatches === null && x.rows === x.expectedRows)).toBe(true);
    expect(await hashesOf(t2.url)).toEqual(srcHashes);
  });

  it('a trigger that drops rows fails the default restore by the COPY row count: atomic rolls back, --jobs says the target is partial', async () => {
    const t = await db();
    const err = await restoreBackup({ source: id, storage: dropped.storage, targetUrl: t.url }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'verification_failed', details: { rolledBack: true } });
    expect((err as Error).message).toMatch(/^TABLE DATA public\.trips (chunk \d+ )?\(#\d+\): the server stored \d+ rows \(COPY count\), the backup has \d+ — rolled back: target unchanged$/);
    expect(await hashesOf(t.url)).toEqual({});

    const t2 = await db();
    const perr = await restoreParallel({ source: id, storage: dropped.storage, targetUrl: t2.url, jobs: 2 }).catch((e: unknown) => e);
    expect(perr).toMatchObject({ code: 'verification_failed', details: { rolledBack: false } });
    expect((perr as Error).message).toMatch(/^TABLE DATA public\.trips (chunk \d+ )?\(#\d+\): the server stored \d+ rows \(COPY count\), the backup has \d+ — parallel restore \(not atomic\): the target is PARTLY restored; drop and recreate it before retrying$/);
  });

  it('a trigger that alters values keeps every row count: only checkContent (and every drill) re-reads and catches it', async () => {
    // Default: what it proves holds (SHA-256s and counts), and it says content was not re-read.
    const t = await db();
    const r = await restoreBackup({ source: id, storage: altered.storage, targetUrl: t.url });
    expect(r.checked.content).toBe(false);
    expect(r.tables.find((x) => x.name === 'trips')).toMatchObject({ rows: srcHashes['public.trips'].rows, contentMatches: null });

    // checkContent: the re-read finds it before COMMIT; nothing stays behind.
    const t2 = await db();
    const err = await restoreBackup({ source: id, storage: altered.storage, targetUrl: t2.url, checkContent: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'verification_failed', details: { rolledBack: true } });
    expect((err as Error).message).toMatch(/public\.trips: content hash differs from the backup's — rolled back: target unchanged$/);
    expect(await hashesOf(t2.url)).toEqual({});

    const t3 = await db();
    const perr = await restoreParallel({ source: id, storage: altered.storage, targetUrl: t3.url, jobs: 2, checkContent: true }).catch((e: unknown) => e);
    expect(perr).toMatchObject({ code: 'verification_failed' });
    expect((perr as Error).message).toMatch(/public\.trips: content hash differs.*PARTLY restored/);

    // A drill always re-reads.
    const d = await runDrill({ storage: altered.storage, id, serverUrl: serverUrl() });
    expect(d.ok).toBe(false);
    expect(d.error).toMatch(/public\.trips: content hash differs/);
    expect(d.tables.find((x) => x.name === 'trips')?.contentMatches).toBe(false);
  });

  it('checkContent on an intact backup: every table re-read and matching', async () => {
    const t = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url, checkContent: true });
    expect(r.checked).toEqual({ memberSha256: true, rowCounts: true, content: true });
    expect(r.tables.every((x) => x.contentMatches === true && x.rows === x.expectedRows)).toBe(true);
  });
});
