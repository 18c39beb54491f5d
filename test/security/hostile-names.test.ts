import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveKey } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { verifyBackup } from '../../lib/backup/verify';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, schemaOf, tempStorage } from '../backup/restore-test-helpers';

// Issue 7 item 3: names with a newline, a carriage return, U+2028, quotes and backslashes — in
// table AND column names, and in the sequences serial columns make from them — must round-trip by
// every path: backup (with its read-back verification), verify, restore (atomic and --jobs),
// `restore <file> --force` without the manifest, and plain `gunzip -c | psql`. Before, a newline
// in a table name made every backup fail its own verification, and the restore assumed the COPY
// line was one line.
const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
const T1 = 'bad\nname';
const T2 = 'cr\rtable\u2028sep';
const T3 = 'q"uo\'te\\back\\.slash';
const C1 = 'col\nnew';
const C2 = 'c\r"\\';
const C3 = '\\.';

let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
let srcSchema: string;
const dbs: TestDatabase[] = [];

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'names' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await db();
  await exec(
    src.url,
    `CREATE TABLE public.${q(T1)} (id serial PRIMARY KEY, ${q(C1)} text, ${q(C2)} int);
     CREATE TABLE public.${q(T2)} (${q(C3)} text, ref int REFERENCES public.${q(T1)} (id));
     CREATE TABLE public.${q(T3)} (id bigint GENERATED ALWAYS AS IDENTITY, v text);
     CREATE INDEX ${q('ix\nof\rt1')} ON public.${q(T1)} (${q(C1)});
     INSERT INTO public.${q(T1)} (${q(C1)}, ${q(C2)}) SELECT E'line\\n\\\\.\\nnext\\r' || g, g FROM generate_series(1, 50) g;
     INSERT INTO public.${q(T2)} VALUES (E'\\\\.', 1), (E'x\\u2028y', 2), (NULL, NULL);
     INSERT INTO public.${q(T3)} (v) SELECT 'v' || g FROM generate_series(1, 7) g;`,
  );
  ({ storage, dir } = await tempStorage());
  srcHashes = await hashesOf(src.url);
  srcSchema = await schemaOf(src.url);
  id = await backup(src.url, storage); // runBackup reads its archive back and fails if it does not verify
}, 120_000);

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hostile table and column names', () => {
  it('the backup verifies', async () => {
    const v = await verifyBackup(storage, id);
    expect(v.problems).toEqual([]);
    expect(v.tables).toBe(3);
    expect(v.rows).toBe(60);
  });

  it('restore (one transaction) gives exactly the source, content re-read included', async () => {
    const t = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url, checkContent: true });
    expect(r.tables.every((x) => x.rows === x.expectedRows && x.contentMatches === true)).toBe(true);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('restore --jobs 2 gives exactly the source', async () => {
    const t = await db();
    await restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2, checkContent: true });
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('restore <file> --force without its manifest gives exactly the source', async () => {
    const t = await db();
    const alone = await mkdtemp(path.join(os.tmpdir(), 'names-alone-'));
    try {
      const file = path.join(alone, archiveKey(id));
      await copyFile(path.join(dir, archiveKey(id)), file);
      const r = await restoreBackup({ source: file, targetUrl: t.url, force: true });
      expect(r.rows).toBe(60);
      expect(await hashesOf(t.url)).toEqual(srcHashes);
      expect(await schemaOf(t.url)).toEqual(srcSchema);
    } finally {
      await rm(alone, { recursive: true, force: true });
    }
  });

  it('gunzip -c | psql gives exactly the source', async () => {
    const t = await db();
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn('sh', ['-c', `gunzip -c "$ARCHIVE" | psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET"`], {
        env: { ...process.env, ARCHIVE: path.join(dir, archiveKey(id)), TARGET: t.url },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      p.on('error', reject);
      p.on('exit', (c) => resolve(c ?? 1));
    });
    expect(code).toBe(0);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });
});
