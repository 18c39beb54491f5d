import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// The backup's control connection holds the one-backup-at-a-time advisory lock and records the
// result, but sits idle (outside any transaction) for the whole run. A database or role with
// idle_session_timeout (PostgreSQL 14+) ended that session mid-backup: the lock was silently
// released (a second backup could start) and the succeeded run could not be recorded.
describe('backup under idle_session_timeout', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-idle-'));
    await withClient(db.url, async (c) => {
      await c.query(`ALTER DATABASE "${db.name}" SET idle_session_timeout = '1s'`);
    });
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps its lock and records the run as succeeded', async () => {
    const local = openStorage(dir);
    let lockHeldMidRun: boolean | undefined;
    // The real local storage, slow to accept the manifest (a slow upload): the control session
    // idles past the 1 s timeout meanwhile.
    const storage: StorageBackend = Object.assign(Object.create(local) as StorageBackend, {
      put: async (key: string, body: Readable) => {
        if (key.endsWith('.manifest.json')) {
          await new Promise((res) => setTimeout(res, 2500));
          lockHeldMidRun = await withClient(db.url, async (c) =>
            (await c.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 7263 AND objid = 3 AND granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0].n === 1,
          );
        }
        return local.put(key, body);
      },
    });
    const r = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    expect(lockHeldMidRun).toBe(true);
    // No bookkeeping warning; only the database's own setting is named (database-settings.ts).
    expect(r.warnings ?? []).toEqual([expect.stringContaining("database settings — the database's own (ALTER DATABASE … SET): idle_session_timeout;")]);
    const row = await withClient(db.url, async (c) => (await c.query('SELECT status FROM public.backup_runs WHERE id = $1', [r.id])).rows[0]);
    expect(row.status).toBe('succeeded');
  }, 60_000);
});
