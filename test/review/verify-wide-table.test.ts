import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../lib/backup/run-backup';
import { verifyBackup } from '../../lib/backup/verify';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// A wide table (many columns, long or non-ASCII names) has a COPY line longer than 4 KiB. The
// verifier compared only the first 4 KiB of a member with the manifest's COPY line, so every backup
// of such a database failed its own verification: no backup could ever succeed.
describe('verify: a COPY line longer than 4 KiB', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-wide-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('backs up and verifies a 120-column table with Amharic column names', async () => {
    // 'የመንገደኛ_መረጃ_' is 12 characters, 3 bytes each in UTF-8.
    const cols = Array.from({ length: 120 }, (_, i) => `"የመንገደኛ_መረጃ_${i}" text`);
    await withClient(db.url, async (c) => {
      await c.query(`CREATE TABLE public.wide (${cols.join(', ')})`);
      await c.query(`INSERT INTO public.wide ("የመንገደኛ_መረጃ_0", "የመንገደኛ_መረጃ_119") VALUES ('a', 'ሰላም'), ('b', NULL)`);
    });
    const storage = openStorage(dir);
    const b = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    expect(b.status).toBe('succeeded');
    expect(b.rows).toBe(2);
    const v = await verifyBackup(storage, b.id);
    expect(v.problems).toEqual([]);
  }, 60_000);
});
