import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../lib/backup/verify';
import { archiveKey, manifestKey } from '../../lib/backup/manifest';
import type { Manifest } from '../../lib/backup/manifest';
import { dirStorage, writeMiniArchive } from '../helpers/mini-archive';

// Format-level checks of verify against a hand-built archive: every member position is hit by a
// flipped byte and must be reported with the object it belongs to. (verify.test.ts does the same
// on real backups from the engine.)
const ID = '20261125T020000Z-abc123';
let dir: string;
let manifest: Manifest;

const rows = Array.from({ length: 500 }, (_, i) => `${i}\tname ${i}\t${'x'.repeat(i % 40)}\n`).join('');
async function build(id = ID) {
  return writeMiniArchive(dir, id, [
    { section: 'header', kind: 'HEADER', schema: null, name: 'header', text: "SET client_encoding = 'UTF8';\n" },
    { section: 'pre-data', kind: 'TABLE', schema: 'public', name: 't', text: 'CREATE TABLE public.t (id int, name text, pad text);\n' },
    { section: 'table-data', kind: 'TABLE DATA', schema: 'public', name: 't', chunk: 0, rows: 500, copy: 'COPY "public"."t" ("id", "name", "pad") FROM stdin;', text: `COPY "public"."t" ("id", "name", "pad") FROM stdin;\n${rows}\\.\n` },
    { section: 'post-data', kind: 'CONSTRAINT', schema: 'public', name: 't_pkey', table: 't', text: 'ALTER TABLE public.t ADD PRIMARY KEY (id);\n' },
  ]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'verify-format-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verifyBackup on a hand-built archive', () => {
  it('accepts an intact backup', async () => {
    manifest = await build();
    const r = await verifyBackup(dirStorage(dir), ID);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.archiveSha256Ok).toBe(true);
    expect(r.entries).toBe(4);
    expect(r.rows).toBe(500);
  });

  it('names the member a flipped byte hits, for every member', async () => {
    for (const e of manifest.entries) {
      await build();
      const file = path.join(dir, archiveKey(ID));
      const buf = await readFile(file);
      const at = e.offset + Math.floor(e.length / 2);
      buf[at] ^= 0x01;
      await writeFile(file, buf);
      const r = await verifyBackup(dirStorage(dir), ID);
      expect(r.ok).toBe(false);
      expect(r.archiveSha256Ok).toBe(false);
      const hit = r.problems.filter((p) => p.index !== undefined);
      expect(hit.length).toBeGreaterThan(0);
      expect(hit.every((p) => p.index === e.index && p.name === e.name && p.kind === e.kind)).toBe(true);
    }
  });

  it('reports a truncated archive', async () => {
    await build();
    const file = path.join(dir, archiveKey(ID));
    await truncate(file, manifest.archive.sizeBytes - 10);
    const r = await verifyBackup(dirStorage(dir), ID);
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => /truncated/.test(p.problem))).toBe(true);
    expect(r.problems.some((p) => p.index === 3 && p.name === 't_pkey')).toBe(true);
  });

  it('reports a manifest whose row count does not match the member', async () => {
    await build();
    const m = JSON.parse(await readFile(path.join(dir, manifestKey(ID)), 'utf8')) as Manifest;
    m.entries[2].rows = 499;
    await writeFile(path.join(dir, manifestKey(ID)), JSON.stringify(m));
    const r = await verifyBackup(dirStorage(dir), ID);
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.index === 2 && /holds 500 rows, manifest says 499/.test(p.problem))).toBe(true);
  });

  it('reports an unknown format version', async () => {
    await build();
    const m = JSON.parse(await readFile(path.join(dir, manifestKey(ID)), 'utf8')) as Manifest;
    m.formatVersion = 99;
    await writeFile(path.join(dir, manifestKey(ID)), JSON.stringify(m));
    const r = await verifyBackup(dirStorage(dir), ID);
    expect(r.ok).toBe(false);
    expect(r.problems[0].problem).toMatch(/unknown archive format version 99/);
  });

  it('throws not_found for a missing backup', async () => {
    await expect(verifyBackup(dirStorage(dir), '20261125T020000Z-nothere')).rejects.toMatchObject({ code: 'not_found' });
  });
});
