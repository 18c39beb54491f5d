import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markRunDeleted } from '../../lib/backup/backup-runs';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { listBackups } from '../../lib/backup/list-backups';
import { encryptedArchiveKey, manifestKey } from '../../lib/backup/manifest';
import { pruneBackups } from '../../lib/backup/prune';
import { runBackup } from '../../lib/backup/run-backup';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { tempStorage } from '../backup/restore-test-helpers';

/**
 * A backup deleted only half way: its manifest is gone but an archive stayed (the dashboard's DELETE
 * before it knew about `.sql.gz.age`; a storage error between the manifest and the archive). The
 * ciphertext of a backup the admin deleted must not stay in storage for ever, and a backup whose
 * manifest retention already removed must not stay "succeeded" in the history.
 */
let db: TestDatabase;
const policy = (now: Date) => ({ keepDays: 0, keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, now });

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'delleft' });
  await withClient(db.url, (c) => seedDemoData(c, { scale: 20 }));
});
afterAll(async () => {
  await db?.drop();
});

describe('leftovers of deleted backups', () => {
  it('the archive of a run recorded deleted (manifest gone) is removed by the next prune; live backups untouched', async () => {
    const { storage, dir } = await tempStorage();
    const { recipient } = await generateKeyPair();
    const gone = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', encryptionRecipients: [recipient] });
    const live = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', encryptionRecipients: [recipient] });
    // What the old DELETE route left: manifest and .sql.gz removed, the .sql.gz.age kept, row deleted.
    await storage.delete(manifestKey(gone.id));
    await withClient(db.url, (c) => markRunDeleted(c, gone.id, 'deleted by root@tickethub.et'));
    expect((await readdir(dir)).filter((f) => f.startsWith(gone.id))).toEqual([`${gone.id}.sql.gz.age`]);
    expect((await listBackups(storage)).find((b) => b.id === gone.id)?.status).toBe('incomplete');

    await withClient(db.url, (c) => pruneBackups(c, storage, { ...policy(new Date()), keepDays: 30 }));
    expect((await readdir(dir)).filter((f) => f.startsWith(gone.id))).toEqual([]);
    expect((await readdir(dir)).filter((f) => f.startsWith(live.id))).toHaveLength(2);
    expect((await listBackups(storage)).map((b) => `${b.id} ${b.status}`)).toEqual([`${live.id} succeeded`]);
  }, 120_000);

  it('retention removed the manifest but not the archive: the run is recorded deleted (saying what was left), not succeeded for ever', async () => {
    const { storage, dir } = await tempStorage();
    const old = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    const newer = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    // An object at the .sql.gz.age key that cannot be deleted (a non-empty directory): the failure
    // comes after the manifest and the .sql.gz are gone.
    await mkdir(path.join(dir, encryptedArchiveKey(old.id)));
    await writeFile(path.join(dir, encryptedArchiveKey(old.id), 'x'), 'x');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const r = await pruneBackups(c, storage, policy(new Date(Date.now() + 86_400_000)));
      expect(r.failed.map((f) => f.id)).toEqual([old.id]);
      const row = (await c.query('SELECT status, deleted_reason FROM public.backup_runs WHERE id = $1', [old.id])).rows[0];
      expect(row.status).toBe('deleted');
      expect(row.deleted_reason).toMatch(/^retention: .*; .*could not be removed/);
      expect((await c.query('SELECT status FROM public.backup_runs WHERE id = $1', [newer.id])).rows[0].status).toBe('succeeded');
    } finally {
      await c.end();
    }
  }, 120_000);
});
