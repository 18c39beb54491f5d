import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../lib/backup/list-backups';
import { archiveKey } from '../../lib/backup/manifest';
import { reindex } from '../../lib/backup/reindex';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// A manifest whose archive is gone (deleted by hand to free space, an S3 lifecycle rule) is not a
// restorable backup: it must never be listed, reindexed or counted by retention as succeeded.
describe('a manifest without its archive', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-list-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is not listed as succeeded and reindex does not record it as succeeded', async () => {
    const storage = openStorage(dir);
    const good = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    const lost = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await storage.delete(archiveKey(lost.id));

    const listed = await listBackups(storage);
    expect(listed.find((b) => b.id === good.id)?.status).toBe('succeeded');
    const l = listed.find((b) => b.id === lost.id);
    expect(l).toBeDefined();
    expect(l!.status).not.toBe('succeeded');
    expect(l!.error).toMatch(/archive .* missing/);

    const res = await reindex(storage, db.url);
    expect(res.upserted).toEqual([good.id]);
    const row = await withClient(db.url, async (c) => (await c.query('SELECT status FROM public.backup_runs WHERE id = $1', [lost.id])).rows[0]);
    expect(row.status).not.toBe('succeeded');
  }, 60_000);
});
