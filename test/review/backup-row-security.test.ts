import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// A backup run by a role that row-level security applies to (a table owner under FORCE ROW LEVEL
// SECURITY, or any role without BYPASSRLS) got only the rows its policies let it see from
// `COPY t TO STDOUT`, and called that backup succeeded: rows silently missing, and the restore's
// checks agree with the (incomplete) manifest. pg_dump sets row_security = off so such a read
// fails loudly; so must we.
describe('backup of a table under row-level security', () => {
  let db: TestDatabase;
  let dir: string;
  const role = `rev_rls_${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-rls-'));
    await withClient(db.url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'rls-pw'`);
      await c.query(`GRANT ALL ON DATABASE "${db.name}" TO ${role}`);
      await c.query(`GRANT ALL ON SCHEMA public TO ${role}`);
      await c.query(`CREATE TABLE public.fares (id int, amount numeric)`);
      await c.query(`INSERT INTO public.fares SELECT g, g * 10 FROM generate_series(1, 10) g`);
      await c.query(`ALTER TABLE public.fares OWNER TO ${role}`);
      await c.query(`ALTER TABLE public.fares ENABLE ROW LEVEL SECURITY`);
      await c.query(`ALTER TABLE public.fares FORCE ROW LEVEL SECURITY`);
      await c.query(`CREATE POLICY only_small ON public.fares USING (id <= 3)`);
    });
  });
  afterAll(async () => {
    await db?.drop();
    await withClient(db.url.replace(/\/[^/]*$/, '/postgres'), (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('never succeeds with a subset of the rows', async () => {
    const u = new URL(db.url);
    u.username = role;
    u.password = 'rls-pw';
    const storage = openStorage(dir);
    const outcome = await runBackup({ databaseUrl: u.toString(), storage, trigger: 'cli' }).then(
      (r) => ({ rows: r.rows, error: null as string | null }),
      (e: Error) => ({ rows: null, error: e.message }),
    );
    if (outcome.error === null) {
      expect(outcome.rows).toBe(10);
    } else {
      // It names the table, the cause and the way out.
      expect(outcome.error).toMatch(/^reading table public\.fares failed: its row-level security policies apply to this role .*back up with a role that has BYPASSRLS/);
      expect(await readdir(dir).catch(() => [])).toEqual([]);
    }
  }, 60_000);
});
