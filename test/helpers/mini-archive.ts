import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AppError } from '../../lib/errors';
import type { Manifest, ManifestEntry } from '../../lib/backup/manifest';
import { archiveKey, buildManifest, manifestKey } from '../../lib/backup/manifest';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { contentShaOf } from '../../lib/backup/manifest';

/** A bare directory StorageBackend for reader tests that must not depend on the real adapters. */
export function dirStorage(dir: string): StorageBackend {
  const nf = (key: string) => new AppError('not_found', `${key} not found in ${dir}`);
  return {
    location: `file://${dir}`,
    async put(key, body) {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c as Buffer);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, key), Buffer.concat(parts));
      return { size: Buffer.concat(parts).length };
    },
    async get(key, range) {
      try {
        await stat(path.join(dir, key));
      } catch {
        throw nf(key);
      }
      return createReadStream(path.join(dir, key), range ? { start: range.start, end: range.end } : {}) as Readable;
    },
    async stat(key) {
      try {
        const s = await stat(path.join(dir, key));
        return { key, size: s.size, modifiedAt: s.mtime };
      } catch {
        throw nf(key);
      }
    },
    async list(prefix = '') {
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix)).sort();
      return Promise.all(names.map(async (key) => ({ key, size: (await stat(path.join(dir, key))).size, modifiedAt: new Date() })));
    },
    async delete(key) {
      await rm(path.join(dir, key), { force: true });
    },
    async close() {},
  };
}

type MemberSpec = Omit<ManifestEntry, 'index' | 'offset' | 'length' | 'rawLength' | 'sha256'> & { text: string };

/** Writes a small format-v1 archive + manifest from member texts (for reader unit tests only). */
export async function writeMiniArchive(dir: string, id: string, members: MemberSpec[]): Promise<Manifest> {
  const parts: Buffer[] = [];
  const entries: ManifestEntry[] = [];
  let offset = 0;
  members.forEach((m, index) => {
    const raw = Buffer.from(m.text, 'utf8');
    const gz = zlib.gzipSync(raw);
    const { text: _t, ...rest } = m;
    entries.push({ ...rest, index, offset, length: gz.length, rawLength: raw.length, sha256: createHash('sha256').update(raw).digest('hex') });
    parts.push(gz);
    offset += gz.length;
  });
  const archive = Buffer.concat(parts);
  const tables = new Map<string, { schema: string; name: string; rows: number; entries: number[] }>();
  for (const e of entries.filter((x) => x.section === 'table-data')) {
    const k = `${e.schema}.${e.name}`;
    const t = tables.get(k) ?? { schema: e.schema!, name: e.name, rows: 0, entries: [] };
    t.rows += e.rows ?? 0;
    t.entries.push(e.index);
    tables.set(k, t);
  }
  const manifest: Manifest = buildManifest({
    id,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    trigger: 'cli',
    description: '',
    source: { serverVersion: '15', serverVersionNum: 150000, database: 'x', schemas: ['public'], encoding: 'UTF8' },
    app: { version: '0.1.0', migration: null },
    archive: { key: archiveKey(id), sizeBytes: archive.length, sha256: createHash('sha256').update(archive).digest('hex'), rawBytes: entries.reduce((s, e) => s + e.rawLength, 0) },
    tables: [...tables.values()].map((t) => ({ ...t, columns: columnsOfCopy(entries[t.entries[0]].copy), contentSha256: contentShaOf(t.entries.map((i) => entries[i].sha256)) })),
    entries,
  });
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, archiveKey(id)), archive);
  await writeFile(path.join(dir, manifestKey(id)), JSON.stringify(manifest, null, 2));
  return manifest;
}

/** The column names of a COPY line `COPY "s"."t" ("a", "b""c") FROM stdin;` (none without a list). */
function columnsOfCopy(copy: string | undefined): string[] {
  const list = /\(((?:"(?:[^"]|"")*"(?:, )?)*)\) FROM stdin;$/.exec(copy ?? '');
  return list ? [...list[1].matchAll(/"((?:[^"]|"")*)"/g)].map((x) => x[1].replace(/""/g, '"')) : [];
}
