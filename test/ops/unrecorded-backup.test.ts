import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALE_RUN_ERROR, recoverStaleRuns } from '../../lib/backup/backup-runs';
import { listBackups } from '../../lib/backup/list-backups';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

let db: TestDatabase;
let dir: string;
let storage: StorageBackend;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'unrec' });
  await withClient(db.url, (c) => c.query(`CREATE TABLE public.items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000) g`));
  dir = await mkdtemp(path.join(os.tmpdir(), 'unrec-'));
  storage = openStorage(dir);
});
afterAll(async () => {
  await storage?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const row = (id: string) => withClient(db.url, async (c) => (await c.query(`SELECT status, error FROM backup_runs WHERE id = $1`, [id])).rows[0]);

describe('a backup stored but never recorded (its process stopped between the manifest and the row)', () => {
  it('is failed as interrupted meanwhile, then recorded succeeded by the next run, so backup_runs and list agree; its files are kept', async () => {
    const first = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    // What a process killed right after storing the manifest leaves: the row still 'running', unverified.
    await withClient(db.url, (c) =>
      c.query(`UPDATE backup_runs SET status = 'running', finished_at = NULL, verified_at = NULL, verification = NULL, manifest = NULL WHERE id = $1`, [first.id]),
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      expect(await recoverStaleRuns(pool)).toEqual([first.id]); // what the dashboard does before showing history
    } finally {
      await pool.end();
    }
    expect(await row(first.id)).toEqual({ status: 'failed', error: STALE_RUN_ERROR });
    expect((await listBackups(storage)).find((b) => b.id === first.id)?.status).toBe('succeeded');

    const second = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    expect(await row(first.id)).toEqual({ status: 'succeeded', error: null });
    const listed = await listBackups(storage);
    for (const id of [first.id, second.id]) expect(listed.find((b) => b.id === id)?.status).toBe('succeeded');
    expect((await readdir(dir)).filter((f) => f.startsWith(first.id)).sort()).toEqual([`${first.id}.manifest.json`, `${first.id}.sql.gz`]);
    const rec = await withClient(db.url, async (c) => (await c.query(`SELECT row_count::int, (manifest ->> 'id') AS mid, verified_at FROM backup_runs WHERE id = $1`, [first.id])).rows[0]);
    expect(rec).toEqual({ row_count: first.rows, mid: first.id, verified_at: null });
  });
});
