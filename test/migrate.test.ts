import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { migrate } from '../lib/db/migrate';
import { createTestDatabase, withClient, type TestDatabase } from './helpers/db';
import { tempDir } from './helpers/temp-dirs';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('migrations', () => {
  it('creates the ten TicketHub tables and backup_runs, and is idempotent', async () => {
    const first = await migrate(db.url);
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect(await migrate(db.url)).toEqual([]);
    const tables = await withClient(db.url, async (c) =>
      (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename),
    );
    for (const t of ['telegram_users', 'admin_users', 'trips', 'receipts', 'tickets', 'activity_logs', 'approvals', 'invitations', 'notifications', 'telegram_channels', 'backup_runs']) {
      expect(tables).toContain(t);
    }
  });

  it('rolls back a failing migration completely and names it', async () => {
    const dir = await tempDir('mig-');
    await writeFile(path.join(dir, '001_ok.sql'), 'CREATE TABLE public.mig_ok (id int);');
    await writeFile(path.join(dir, '002_bad.sql'), 'CREATE TABLE public.mig_half (id int); SELECT no_such_function();');
    await expect(migrate(db.url, dir)).rejects.toThrow(/migration 002_bad failed: .*no_such_function/);
    const half = await withClient(db.url, (c) => c.query(`SELECT to_regclass('public.mig_half') AS t, to_regclass('public.mig_ok') AS ok`));
    expect(half.rows[0].t).toBeNull();
    expect(half.rows[0].ok).toBe('mig_ok');
  });
});
