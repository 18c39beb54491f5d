import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { psqlFile } from '../helpers/schema-round-trip';
import { backup, exec, hashesOf, schemaOf, tempStorage } from './restore-test-helpers';
import { chinookSqlPath } from '../helpers/fixtures';

// The same modes on a database that is not ours: Chinook (self-referencing employee FK, a
// composite-key link table, numeric/timestamp data).
const CHINOOK = chinookSqlPath();
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
let srcSchema: string;
const dbs: TestDatabase[] = [];
async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'chn' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await db();
  await psqlFile(src.url, CHINOOK);
  srcHashes = await hashesOf(src.url);
  srcSchema = await schemaOf(src.url);
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restoreBackup on Chinook', () => {
  it('fresh and replace give exactly the source', async () => {
    const t = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url });
    expect(r.tables).toHaveLength(11);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
    await exec(t.url, `DELETE FROM invoice_line WHERE invoice_line_id % 2 = 0; UPDATE employee SET reports_to = NULL; DROP INDEX IF EXISTS invoice_line_invoice_id_idx; CREATE VIEW public.v AS SELECT 1 AS one`);
    await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'replace' });
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('data-only reloads a self-referencing table and a link table, leaving the rest alone', async () => {
    const t = await db();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await exec(t.url, `UPDATE employee SET title = 'changed'; DELETE FROM playlist_track WHERE playlist_id = 1; UPDATE genre SET name = 'x'`);
    const before = await hashesOf(t.url);
    await restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'data-only', tables: ['employee', 'playlist_track'] });
    const after = await hashesOf(t.url);
    expect(after['public.employee']).toEqual(srcHashes['public.employee']);
    expect(after['public.playlist_track']).toEqual(srcHashes['public.playlist_track']);
    expect(after['public.genre']).toEqual(before['public.genre']);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
  });

  it('into-schema puts invoice and invoice_line next to the live ones', async () => {
    const t = await db();
    await restoreBackup({ source: id, storage, targetUrl: t.url });
    await exec(t.url, `DELETE FROM invoice_line; `);
    await restoreBackup({ source: id, storage, targetUrl: t.url, intoSchema: 'restored', tables: ['invoice', 'invoice_line'] });
    expect(await hashesOf(t.url, ['restored'])).toEqual({ 'restored.invoice': srcHashes['public.invoice'], 'restored.invoice_line': srcHashes['public.invoice_line'] });
    expect((await hashesOf(t.url))['public.invoice_line'].rows).toBe(0);
  });
});
