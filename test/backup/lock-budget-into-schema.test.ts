import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * `restore --into-schema` copies the chosen tables into a new schema in ONE transaction: every
 * table it creates, with its keys, indexes and TOAST relations, holds lock-table entries until
 * COMMIT. Copying 3,000 tables (each with a primary key and a unique key) does not fit a stock lock
 * table (64 per transaction slot): before the check, the restore failed with "out of shared memory"
 * at the 1,078th table's key (PostgreSQL 15, stock settings), rolled back. It must refuse before
 * creating anything, naming the setting.
 */
const TABLES = 3000;
const dbs: TestDatabase[] = [];
let storage: StorageBackend | undefined;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('--into-schema of more tables than the lock table holds refuses before touching anything, naming the setting', async () => {
  const src = await createTestDatabase({ prefix: 'lbi' });
  dbs.push(src);
  await withClient(src.url, async (c) => {
    for (let from = 1; from <= TABLES; from += 250) {
      await c.query(`DO $$ BEGIN FOR i IN ${from}..${Math.min(TABLES, from + 249)} LOOP
        EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text UNIQUE)', i);
        EXECUTE format('INSERT INTO public.t%s VALUES (1, ''one'')', i);
      END LOOP; END $$`);
    }
  });
  ({ storage } = await tempStorage());
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', verify: false });
  const tables = Array.from({ length: TABLES }, (_, i) => `public.t${i + 1}`);
  const err = await restoreBackup({ source: id, storage, targetUrl: src.url, intoSchema: 'copy', tables }).then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  // Succeeding would be fine too (a server with a larger lock table); failing halfway is not.
  const capacity = await withClient(src.url, async (c) =>
    (await c.query(`SELECT current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1 + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int + current_setting('max_prepared_transactions')::int) AS cap`)).rows[0].cap,
  );
  if (capacity < 20_000) expect(err).not.toBeNull();
  if (err) {
    expect(err.message).not.toMatch(/out of shared memory/);
    expect(err).toMatchObject({ code: 'conflict' });
    expect(err.message).toMatch(/^this restore takes about \d+ locks \(the new schema, the tables it creates with their keys, indexes and TOAST relations\) in ONE transaction, .*set max_locks_per_transaction = \d+ on the target server and restart it, or copy fewer tables per restore; nothing was changed$/);
    expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'copy'`)).rows[0].n)).toBe(0);
  } else {
    expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'copy'::regnamespace AND relkind = 'r'`)).rows[0].n)).toBe(TABLES);
  }
}, 300_000);
