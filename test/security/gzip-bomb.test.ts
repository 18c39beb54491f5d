import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest, ManifestEntry } from '../../lib/backup/manifest';
import { archiveKey, contentShaOf, manifestKey, physicalMembers } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { verifyBackup } from '../../lib/backup/verify';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tempStorage } from '../backup/restore-test-helpers';

// Gzip bombs and members whose declared sizes lie (an attacker who can write to the backup storage;
// with BACKUP_SIGNING_KEY the sizes are signed, but the archive's bytes can still be swapped). A
// member of a few hundred KB that decompresses to hundreds of MB was read whole into memory by
// verify and restore (SQL members, packed members) before its size was compared with the
// manifest's, and restore never compared it at all: enough of them takes the process (the web app,
// for the dashboard's verify, drill or export) down with it. Every reader stops a member at the
// size the manifest records, naming it, with flat memory, and changes nothing.
const BOMB_BYTES = 200 << 20;

let src: TestDatabase;
const dbs: TestDatabase[] = [];

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'gzbomb' });
  dbs.push(d);
  return d;
}

/**
 * A fresh backup whose member `pick` decompresses to its own text followed by BOMB_BYTES of
 * whitespace (harmless as SQL; ~200 KB compressed). Every checksum is recomputed (the member's
 * SHA-256, the tables' content hashes, offsets, the archive's size and SHA-256), only the member's
 * recorded `rawLength` stays what it was: the size the manifest declares lies.
 */
async function bombed(pick: (e: ManifestEntry) => boolean, filler = ' '): Promise<{ storage: StorageBackend; id: string; target: ManifestEntry }> {
  const { storage, dir } = await tempStorage();
  const id = await backup(src.url, storage);
  const mfile = path.join(dir, manifestKey(id));
  const afile = path.join(dir, archiveKey(id));
  const m = JSON.parse(await readFile(mfile, 'utf8')) as Manifest;
  const archive = await readFile(afile);
  const target = m.entries.find(pick)!;
  const parts: Buffer[] = [];
  let offset = 0;
  for (const member of physicalMembers(m.entries)) {
    let gz = archive.subarray(member.offset, member.offset + member.length);
    if (member.entries.includes(target)) {
      // The last object of its member (a packed member's later parts keep their offsets).
      const last = member.entries[member.entries.length - 1];
      const old = gunzipSync(gz);
      const raw = Buffer.concat([old, Buffer.alloc(BOMB_BYTES, filler)]);
      if (last.part !== undefined || last === target) last.sha256 = createHash('sha256').update(raw.subarray(last.part ?? 0)).digest('hex');
      gz = gzipSync(raw, { level: 9 });
    }
    for (const e of member.entries) {
      e.offset = offset;
      e.length = gz.length;
    }
    offset += gz.length;
    parts.push(gz);
  }
  const out = Buffer.concat(parts);
  m.archive.sizeBytes = out.length;
  m.archive.sha256 = createHash('sha256').update(out).digest('hex');
  for (const t of m.tables) t.contentSha256 = contentShaOf(t.entries.map((i) => m.entries[i].sha256));
  await writeFile(afile, out);
  await writeFile(mfile, JSON.stringify(m));
  return { storage, id, target: physicalMembers(m.entries).find((x) => x.entries.includes(target))!.entries.at(-1)! };
}

/** Runs `f`, sampling this process's memory (heap + buffers) above what it used before. */
async function peakMb<T>(f: () => Promise<T>): Promise<{ result: T | undefined; error: unknown; mb: number }> {
  const used = () => {
    const u = process.memoryUsage();
    return u.heapUsed + u.arrayBuffers;
  };
  const base = used();
  let max = base;
  const timer = setInterval(() => (max = Math.max(max, used())), 2);
  try {
    return { result: await f(), error: undefined, mb: Math.round((max - base) / 2 ** 20) };
  } catch (error) {
    return { result: undefined, error, mb: Math.round((max - base) / 2 ** 20) };
  } finally {
    clearInterval(timer);
  }
}

const TOO_BIG = /decompresses to more than the \d+ bytes the manifest records/;

beforeAll(async () => {
  src = await db();
  await exec(src.url, `CREATE TABLE public.t (a int PRIMARY KEY, b text); CREATE INDEX t_b ON public.t (b); INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 20) g;`);
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
});

describe('a member that decompresses to far more than the manifest records', () => {
  for (const [what, pick] of [
    ['a schema member (pre-data)', (e: ManifestEntry) => e.section === 'pre-data'],
    ['a packed member of post-data objects', (e: ManifestEntry) => e.section === 'post-data' && e.part !== undefined],
    ['the sequence-set member', (e: ManifestEntry) => e.section === 'sequence-set'],
  ] as const) {
    it(`${what}: verify, restore and restore --jobs 2 refuse it at its recorded size, in flat memory, target unchanged`, async () => {
      const { storage, id, target } = await bombed(pick, what.includes('sequence') ? '\n' : ' ');
      const v = await peakMb(() => verifyBackup(storage, id));
      expect(v.error).toBeUndefined();
      expect(v.result!.ok).toBe(false);
      const mine = v.result!.problems.filter((p) => p.index === target.index).map((p) => p.problem);
      expect(mine.join('\n')).toMatch(TOO_BIG);
      expect(v.mb).toBeLessThan(100);

      const t = await db();
      const r = await peakMb(() => restoreBackup({ source: id, storage, targetUrl: t.url }));
      expect(r.error).toMatchObject({ code: 'corrupt', message: expect.stringMatching(TOO_BIG) });
      expect(r.mb).toBeLessThan(100);
      expect(await hashesOf(t.url)).toEqual({});

      const p = await db();
      const j = await peakMb(() => restoreParallel({ source: id, storage, targetUrl: p.url, jobs: 2 }));
      expect(j.error).toMatchObject({ code: 'corrupt', message: expect.stringMatching(TOO_BIG) });
      expect(j.mb).toBeLessThan(100);
    });
  }

  it('a table-data member: verify stops it at its recorded size, restore refuses it, target unchanged', async () => {
    // The filler goes after the member's text, so the member's shape is wrong as well; what
    // matters is that verify names the size and no reader decompresses the 200 MB first.
    const { storage, id } = await bombed((e) => e.section === 'table-data');
    const v = await peakMb(() => verifyBackup(storage, id));
    expect(v.result!.ok).toBe(false);
    expect(v.result!.problems.map((p) => p.problem).join('\n')).toMatch(TOO_BIG);
    expect(v.mb).toBeLessThan(100);
    const t = await db();
    const r = await peakMb(() => restoreBackup({ source: id, storage, targetUrl: t.url }));
    expect(r.error).toMatchObject({ code: 'corrupt' });
    expect(await hashesOf(t.url)).toEqual({});
  });
});
