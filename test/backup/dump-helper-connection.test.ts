import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { psqlFile } from '../helpers/schema-round-trip';
import { dumpSchema, listTablesToLock } from '../../lib/backup/catalog/dump-schema';

/**
 * The schema dump reads part of the catalog on a second connection in the same snapshot (the one
 * the backup later runs the fingerprint on), so the server reads the catalog on two backends while
 * the backup waits. The dump must be exactly the one read on one connection, the helper must do
 * its part, be handed back with its settings as they were and its transaction usable, and the
 * backup must be told once that the helper is free (it then runs the fingerprint there).
 */
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
const CASES: Array<[string, string[]]> = [
  ['kitchen-sink.sql', ['ks']],
  ['torture-schema.sql', ['public', 'Weird Name']],
];
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
});

async function snapshotClient(url: string, snapshot?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  if (snapshot) await c.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
  return c;
}

describe.each(CASES)('%s', (fixture, schemasWanted) => {
  it('dumps the same with a helper connection as without, and hands the helper back as it was', async () => {
    const db = await createTestDatabase({ prefix: 'dhc' });
    dbs.push(db);
    await psqlFile(db.url, path.join(FIXTURES, fixture));
    const main = await snapshotClient(db.url);
    const others: pg.Client[] = [];
    try {
      const existing = (await main.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname = ANY($1)`, [schemasWanted])).rows.map((r) => r.n);
      const schemas = schemasWanted.filter((s) => existing.includes(s));
      const locks = await listTablesToLock(main, schemas);
      if (locks.length) await main.query(`LOCK TABLE ${locks.join(', ')} IN ACCESS SHARE MODE`);
      const snapshot = (await main.query<{ s: string }>('SELECT pg_catalog.pg_export_snapshot() AS s')).rows[0].s;
      const helper = await snapshotClient(db.url, snapshot);
      others.push(helper);
      await helper.query(`SET search_path = public, pg_catalog; SET jit = on`);
      let helperQueries = 0;
      const orig = helper.query.bind(helper) as (...a: unknown[]) => unknown;
      (helper as unknown as { query: unknown }).query = (...a: unknown[]) => {
        helperQueries++;
        return orig(...a);
      };
      const events: string[] = [];
      const withHelper = await dumpSchema(main, { schemas, excludeTableData: [], helper, onHelperDone: () => events.push('helper done') });
      events.push('returned');
      expect(events).toEqual(['helper done', 'returned']);
      expect(helperQueries).toBeGreaterThan(3);
      const after = await orig(`SELECT pg_catalog.current_setting('search_path') AS sp, pg_catalog.current_setting('jit') AS jit, pg_catalog.txid_current_if_assigned() IS NULL AS open`);
      expect((after as pg.QueryResult).rows[0]).toEqual({ sp: 'public, pg_catalog', jit: 'on', open: true });

      const alone = await snapshotClient(db.url, snapshot);
      others.push(alone);
      const withoutHelper = await dumpSchema(alone, { schemas, excludeTableData: [] });
      expect(withHelper.objects.length).toBeGreaterThan(10);
      expect(JSON.stringify(withHelper)).toBe(JSON.stringify(withoutHelper));
    } finally {
      for (const c of [main, ...others]) await c.end().catch(() => undefined);
    }
  }, 120_000);
});
