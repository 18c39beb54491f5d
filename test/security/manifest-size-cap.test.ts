import { appendFile, copyFile, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups, readManifest } from '../../lib/backup/list-backups';
import { failedKey, listFailedMarkers } from '../../lib/backup/failed-marker';
import { archiveKey, manifestKey } from '../../lib/backup/manifest';
import { pruneBackups } from '../../lib/backup/prune';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { runBackup } from '../../lib/backup/run-backup';
import { verifyBackup } from '../../lib/backup/verify';
import { MAX_MANIFEST_BYTES, MAX_RECORD_BYTES } from '../../lib/storage/read-capped';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { exec, scalar, tempStorage } from '../backup/restore-test-helpers';

// Nothing read from storage is trusted, its size neither: a manifest.json of gigabytes (a broken
// writer, a hostile one; on S3 any size) was read whole into memory by list, verify, restore,
// drills, reindex and the dashboard. Here: a real backup's manifest with whitespace appended past
// the cap (still valid JSON: before, it was read whole and ACCEPTED), and one of zeros.
let src: TestDatabase;
let target: TestDatabase;
let storage: StorageBackend;
let dir: string;
let good: string;
const padded = '20250101T000000Z-padded01';
const zeros = '20250101T000000Z-zeros001';

/** A file of `bytes` bytes: `head`, then `fill` bytes (sparse when 0), without holding it in memory. */
async function bigFile(file: string, head: Buffer, bytes: number, fill: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.write(head, 0, head.length, 0);
    if (fill === 0) await fh.truncate(bytes);
    else {
      const block = Buffer.alloc(8 * 1024 * 1024, fill);
      for (let at = head.length; at < bytes; at += block.length) await fh.write(block, 0, Math.min(block.length, bytes - at), at);
    }
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'mcap' });
  target = await createTestDatabase({ prefix: 'mcapt' });
  await exec(src.url, `CREATE TABLE public.t (a int PRIMARY KEY, b text); INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 500) g;`);
  ({ storage, dir } = await tempStorage());
  good = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
  // Same backup under another id, manifest padded with spaces past the cap (its id fixed up).
  const text = await readFile(path.join(dir, manifestKey(good)), 'utf8');
  await bigFile(path.join(dir, manifestKey(padded)), Buffer.from(text.split(good).join(padded)), MAX_MANIFEST_BYTES + 1, 0x20);
  await copyFile(path.join(dir, archiveKey(good)), path.join(dir, archiveKey(padded)));
  await bigFile(path.join(dir, manifestKey(zeros)), Buffer.alloc(0), MAX_MANIFEST_BYTES + 1, 0);
  await copyFile(path.join(dir, archiveKey(good)), path.join(dir, archiveKey(zeros)));
}, 120_000);

afterAll(async () => {
  await src?.drop();
  await target?.drop();
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const TOO_LARGE = new RegExp(`is larger than ${MAX_MANIFEST_BYTES.toLocaleString('en-US')} bytes, more than any backup writes: refusing to read it`);

describe('a manifest larger than any backup writes', () => {
  it('list: unreadable, naming the cap, without reading it; the good backup is still listed, and retention never counts the others as good', async () => {
    const rss = process.memoryUsage().rss;
    const listed = new Map((await listBackups(storage)).map((b) => [b.id, b]));
    expect(listed.get(good)?.status).toBe('succeeded');
    for (const id of [padded, zeros]) {
      expect(listed.get(id)?.status).toBe('unreadable');
      expect(listed.get(id)?.error).toMatch(TOO_LARGE);
      expect(listed.get(id)?.error).toContain(manifestKey(id));
    }
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    const r = await pruneBackups(null, storage, { keepDays: 0, keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, now: new Date(Date.now() + 86_400_000) });
    expect(r.removed.map((d) => d.id)).not.toContain(good);
  });

  it('verify, show and restore refuse it in one line and the target stays empty', async () => {
    for (const id of [padded, zeros]) {
      const v = await verifyBackup(storage, id);
      expect(v.ok).toBe(false);
      expect(JSON.stringify(v)).toMatch(TOO_LARGE);
      await expect(readManifest(storage, id)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(TOO_LARGE) });
      const err = await restoreBackup({ source: id, storage, targetUrl: target.url }).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(TOO_LARGE);
      expect(err?.message).not.toMatch(/\n/);
    }
    expect(await scalar<number>(target.url, `SELECT count(*)::int FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace`)).toBe(0);
    // The intact backup still restores.
    await restoreBackup({ source: good, storage, targetUrl: target.url });
    expect(await scalar<number>(target.url, 'SELECT count(*)::int FROM public.t')).toBe(500);
  }, 120_000);

  it('a failure marker over its cap (valid JSON padded with spaces) is skipped, not read whole and listed', async () => {
    const id = '20250102T000000Z-failbig1';
    const marker = { id, trigger: 'cron', startedAt: '2025-01-02T00:00:00Z', finishedAt: '2025-01-02T00:00:01Z', error: 'disk full', code: 'storage' };
    await bigFile(path.join(dir, failedKey(id)), Buffer.from(JSON.stringify(marker)), MAX_RECORD_BYTES + 1, 0x20);
    const small = '20250103T000000Z-failsml1';
    await appendFile(path.join(dir, failedKey(small)), JSON.stringify({ ...marker, id: small }));
    const markers = (await listFailedMarkers(storage)).map((m) => m.id);
    expect(markers).toContain(small);
    expect(markers).not.toContain(id);
    const listed = (await listBackups(storage)).map((b) => b.id);
    expect(listed).toContain(small);
    expect(listed).not.toContain(id);
  });
});
