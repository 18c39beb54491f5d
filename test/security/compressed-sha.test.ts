import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest, ManifestEntry } from '../../lib/backup/manifest';
import { archiveKey, contentShaOf, manifestKey } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { verifyBackup } from '../../lib/backup/verify';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tempStorage } from '../backup/restore-test-helpers';

// A big table-data member records the SHA-256 of its COMPRESSED bytes (gzSha256), and the restore
// checks a member by that instead of hashing its ~4x bigger decompressed bytes (a --jobs restore's
// CPU). So those bytes must be exactly the ones the backup wrote: compressed bytes that differ
// (even when they inflate to the same rows) are refused before COMMIT by the atomic restore and
// --jobs, and reported by verify; a malformed record stops everything before it runs; a manifest
// without the records (backups made before them) is still checked by the decompressed bytes.
let src: TestDatabase;
const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'gzsha' });
  dbs.push(d);
  return d;
}

async function freshBackup(): Promise<{ storage: StorageBackend; dir: string; id: string }> {
  const { storage, dir } = await tempStorage();
  cleanups.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { storage, dir, id: await backup(src.url, storage) };
}

async function readBackup(dir: string, id: string): Promise<{ m: Manifest; archive: Buffer }> {
  return { m: JSON.parse(await readFile(path.join(dir, manifestKey(id)), 'utf8')) as Manifest, archive: await readFile(path.join(dir, archiveKey(id))) };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const bigMembers = (m: Manifest): ManifestEntry[] => m.entries.filter((e) => e.section === 'table-data' && e.name === 'big');

beforeAll(async () => {
  src = await db();
  // Hex text compresses about 2:1: ~3.5 MB of rows make members far above the 64 KiB threshold.
  await exec(
    src.url,
    `CREATE TABLE public.big (id bigint PRIMARY KEY, a text, b text, at timestamptz);
     INSERT INTO public.big SELECT g, md5(g::text) || md5((g * 7)::text), md5((g * 13)::text), timestamptz '2025-01-01' + g * interval '1 second' FROM generate_series(1, 40000) g;
     CREATE TABLE public.small (n int, s text); INSERT INTO public.small VALUES (1, 'one'), (2, 'two');`,
  );
});

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  for (const d of dbs) await d.drop().catch(() => {});
});

describe("table-data members checked by their compressed bytes' SHA-256", () => {
  it('big members record it (the SHA-256 of their bytes in the archive), small ones do not; both restores give every row back', async () => {
    const { storage, dir, id } = await freshBackup();
    const { m, archive } = await readBackup(dir, id);
    const big = bigMembers(m);
    expect(big.length).toBeGreaterThan(0);
    for (const e of big) {
      expect(e.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(e.gzSha256).toBe(sha(archive.subarray(e.offset, e.offset + e.length)));
    }
    expect(m.entries.find((e) => e.section === 'table-data' && e.name === 'small')?.gzSha256).toBeUndefined();
    expect(m.entries.filter((e) => e.section !== 'table-data').every((e) => e.gzSha256 === undefined)).toBe(true);
    expect((await verifyBackup(storage, id)).ok).toBe(true);
    const want = await hashesOf(src.url);
    const a = await db();
    await restoreBackup({ source: id, storage, targetUrl: a.url });
    expect(await hashesOf(a.url)).toEqual(want);
    const p = await db();
    await restoreParallel({ source: id, storage, targetUrl: p.url, jobs: 2 });
    expect(await hashesOf(p.url)).toEqual(want);
  });

  it('compressed bytes other than the recorded ones (same rows: the gzip header time changed; archive SHA-256 recomputed) are refused by verify, the atomic restore and --jobs', async () => {
    const { storage, dir, id } = await freshBackup();
    const { m, archive } = await readBackup(dir, id);
    const e = bigMembers(m)[0];
    // Bytes 4-7 of a gzip member are its MTIME: gunzip ignores them, the rows stay the same.
    archive[e.offset + 4] ^= 0x01;
    m.archive.sha256 = sha(archive);
    await writeFile(path.join(dir, archiveKey(id)), archive);
    await writeFile(path.join(dir, manifestKey(id)), JSON.stringify(m, null, 2));
    const v = await verifyBackup(storage, id);
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => `${p.name}: ${p.problem}`)).toEqual([`big: compressed SHA-256 does not match the manifest`]);
    const a = await db();
    await expect(restoreBackup({ source: id, storage, targetUrl: a.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/TABLE DATA public\.big chunk 0 \(#\d+\): compressed SHA-256 does not match the manifest.*rolled back: target unchanged/) });
    expect(await hashesOf(a.url)).toEqual({});
    const p = await db();
    await expect(restoreParallel({ source: id, storage, targetUrl: p.url, jobs: 2 })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/compressed SHA-256 does not match the manifest/) });
    // --jobs is not atomic, but that member's own transaction never committed.
    expect(Number(await scalar(p.url, 'SELECT count(*) FROM public.big'))).toBe(0);
  });

  it('a malformed record is refused before anything runs; without the records (older backups) the decompressed bytes are checked', async () => {
    const { storage, dir, id } = await freshBackup();
    const mfile = path.join(dir, manifestKey(id));
    const good = await readFile(mfile, 'utf8');
    const m = JSON.parse(good) as Manifest;
    bigMembers(m)[0].gzSha256 = 'not-a-sha';
    await writeFile(mfile, JSON.stringify(m, null, 2));
    const v = await verifyBackup(storage, id);
    expect(v.problems.map((p) => p.problem).join('\n')).toMatch(/malformed gzSha256/);
    const a = await db();
    await expect(restoreParallel({ source: id, storage, targetUrl: a.url, jobs: 2 })).rejects.toMatchObject({ message: expect.stringMatching(/malformed gzSha256/) });
    expect(await hashesOf(a.url)).toEqual({});

    // The records removed: a restore still works, and still refuses edited rows by their own SHA-256.
    const old = JSON.parse(good) as Manifest;
    for (const e of old.entries) delete e.gzSha256;
    await writeFile(mfile, JSON.stringify(old, null, 2));
    const b = await db();
    await restoreParallel({ source: id, storage, targetUrl: b.url, jobs: 2 });
    expect(await hashesOf(b.url)).toEqual(await hashesOf(src.url));
    const e = bigMembers(old)[0];
    e.sha256 = 'f'.repeat(64);
    for (const t of old.tables) t.contentSha256 = contentShaOf(t.entries.map((i) => old.entries[i].sha256));
    await writeFile(mfile, JSON.stringify(old, null, 2));
    const c = await db();
    await expect(restoreParallel({ source: id, storage, targetUrl: c.url, jobs: 2 })).rejects.toMatchObject({ message: expect.stringMatching(/TABLE DATA public\.big chunk 0 \(#\d+\): content SHA-256 does not match the manifest/) });
  });
});
