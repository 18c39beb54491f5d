import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { backup, tempStorage } from './restore-test-helpers';
import { listBackups, readManifest } from '../../lib/backup/list-backups';
import { manifestKey } from '../../lib/backup/manifest';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * Format v3 manifests of large catalogs are bigger than their archives (an entry and a SHA-256 per
 * object); their first line is the summary and `list` reads only that line.
 */
const TABLES = 300;
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'lsum' });
  await withClient(src.url, (c) =>
    c.query(`DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
      EXECUTE format('CREATE TABLE public.t%s (id serial PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO public.t%s (v) VALUES (''a''), (''b'')', i);
    END LOOP; END $$`),
  );
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
}, 300_000);
afterAll(async () => {
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await src?.drop().catch(() => undefined);
});

describe('list of a backup with a large manifest', () => {
  it('reads the summary line only, and shows the same totals as the whole manifest', async () => {
    const size = (await stat(path.join(dir, manifestKey(id)))).size;
    expect(size).toBeGreaterThan(400 * 1024);
    let read = 0;
    const counting: StorageBackend = Object.create(storage, {
      get: {
        value: async (key: string, range?: { start: number; end: number }) => {
          const s: Readable = await storage.get(key, range);
          if (key === manifestKey(id)) s.on('data', (c: Buffer) => (read += c.length));
          return s;
        },
      },
    });
    const [b] = await listBackups(counting);
    const full = await readManifest(storage, id);
    expect(b).toMatchObject({ id, status: 'succeeded', tables: full.totals.tables, rows: full.totals.rows, sha256: full.archive.sha256 });
    expect(b.tables).toBe(TABLES);
    expect(b.rows).toBe(TABLES * 2);
    expect(b.manifest).not.toHaveProperty('entries');
    expect(read).toBeGreaterThan(0);
    // One read chunk at most (a file stream hands out 64 KiB), never the whole manifest.
    expect(read).toBeLessThanOrEqual(64 * 1024);
    expect(read).toBeLessThan(size / 4);
  }, 120_000);
});
