import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../lib/backup/verify';
import type { Manifest } from '../../lib/backup/manifest';
import { archiveKey, manifestKey } from '../../lib/backup/manifest';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, seedTicketHub, tempStorage } from './restore-test-helpers';

// verify on real engine backups: a flipped byte in any member is reported with that member.
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let manifest: Manifest;

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'vfy' });
  await seedTicketHub(src.url, 300);
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
  manifest = JSON.parse(await readFile(path.join(dir, manifestKey(id)), 'utf8'));
});

afterAll(async () => {
  await src?.drop();
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function withCopy(fn: (d: string, s: StorageBackend) => Promise<void>) {
  const d = `${dir}-${Math.random().toString(36).slice(2, 8)}`;
  await cp(dir, d, { recursive: true });
  const s = openStorage(d);
  try {
    await fn(d, s);
  } finally {
    await s.close();
    await rm(d, { recursive: true, force: true });
  }
}

describe('verifyBackup on engine backups', () => {
  it('passes an intact backup', async () => {
    const r = await verifyBackup(storage, id);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, archiveSha256Ok: true, entries: manifest.entries.length });
  });

  it('names the object for a flipped byte in a member of every section', async () => {
    const sections = ['header', 'pre-data', 'table-data', 'sequence-set', 'post-data'];
    const victims = sections.map((s) => manifest.entries.filter((e) => e.section === s).at(-1)!);
    for (const v of victims) {
      await withCopy(async (d, s) => {
        const f = path.join(d, archiveKey(id));
        const buf = await readFile(f);
        // Skip the 10-byte gzip header: a flip in the deflate data or trailer.
        buf[v.offset + 10 + Math.floor((v.length - 10) / 2)] ^= 0x20;
        await writeFile(f, buf);
        const r = await verifyBackup(s, id);
        expect(r.ok).toBe(false);
        const hits = r.problems.filter((p) => p.index !== undefined);
        if (v.part === undefined) {
          expect(hits.map((p) => [p.index, p.kind, p.name])).toEqual([[v.index, v.kind, v.name]]);
        } else {
          // A packed member (v3): the objects it holds are named, and only they.
          const inMember = manifest.entries.filter((e) => e.offset === v.offset);
          expect(inMember.length).toBeGreaterThan(1);
          expect(hits.length).toBeGreaterThan(0);
          for (const h of hits) expect(inMember.map((e) => [e.index, e.kind, e.name])).toContainEqual([h.index, h.kind, h.name]);
        }
      });
    }
  });

  it('reports a truncated archive and a manifest that does not match', async () => {
    await withCopy(async (d, s) => {
      await truncate(path.join(d, archiveKey(id)), Math.floor(manifest.archive.sizeBytes / 2));
      const r = await verifyBackup(s, id);
      expect(r.ok).toBe(false);
      expect(r.problems[0].problem).toMatch(/truncated/);
    });
    await withCopy(async (d, s) => {
      const m = structuredClone(manifest);
      const t = m.entries.find((e) => e.section === 'table-data' && (e.rows ?? 0) > 0)!;
      t.rows! += 1;
      await writeFile(path.join(d, manifestKey(id)), JSON.stringify(m));
      const r = await verifyBackup(s, id);
      expect(r.ok).toBe(false);
      expect(r.problems.some((p) => p.index === t.index && /manifest says/.test(p.problem))).toBe(true);
    });
  });

  it('throws not_found for an unknown id', async () => {
    await expect(verifyBackup(storage, '20200101T000000Z-zzzzzz')).rejects.toMatchObject({ code: 'not_found' });
  });
});
