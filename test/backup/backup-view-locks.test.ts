import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { FINGERPRINT_SIDE_LOCKS } from '../../lib/backup/worker-locks';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * pg_get_viewdef (and pg_get_ruledef) lock the view and every relation its query reads until the
 * transaction ends. The coordinator holds those anyway (it locked every table and reads every
 * view's definition), but the catalog fingerprint, when it runs beside the schema dump on its own
 * connection, takes them all a SECOND time: 5,000 tables with a view each held ~20,000 lock-table
 * entries where pg_dump holds 10,000 — past a stock lock table. The side connection may only hold
 * a bounded number of user-relation locks; a catalog with more views fingerprints on the coordinator.
 */
const TABLES = 700;
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'bvl' });
  dbs.push(src);
  await withClient(src.url, async (c) => {
    await c.query(`DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
      EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text)', i);
      EXECUTE format('CREATE VIEW public.v%s AS SELECT id, v FROM public.t%s', i, i);
    END LOOP; END $$`);
  });
  ({ storage } = await tempStorage());
}, 300_000);
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

describe('backup of many views on stock lock settings', () => {
  it('the fingerprint side connection never holds more than FINGERPRINT_SIDE_LOCKS user-relation locks', async () => {
    const probe = new pg.Client({ connectionString: src.url });
    await probe.connect();
    let peak = 0;
    let samples = 0;
    let running = true;
    const sampling = (async () => {
      while (running) {
        const r = await probe.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_class c ON c.oid = l.relation
            WHERE a.application_name = 'tickethub-backup fingerprint' AND l.locktype = 'relation' AND c.relnamespace = 'public'::regnamespace`,
        );
        peak = Math.max(peak, r.rows[0].n);
        samples++;
        await new Promise((res) => setTimeout(res, 2));
      }
    })();
    try {
      const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', workers: 2 });
      expect(r.status).toBe('succeeded');
    } finally {
      running = false;
      await sampling;
      await probe.end();
    }
    expect(samples).toBeGreaterThan(3);
    expect(peak).toBeLessThanOrEqual(FINGERPRINT_SIDE_LOCKS);
  }, 300_000);
});
