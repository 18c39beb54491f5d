import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';

const dbs: TestDatabase[] = [];
let storage: StorageBackend | undefined;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('--tables naming a partitioned table (whose rows are in its partitions, at every level) says so and names them, instead of "not in backup"; nothing changes', async () => {
  const src = await createTestDatabase({ prefix: 'partroot' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE TABLE public.trips (k int, v text) PARTITION BY RANGE (k);
     CREATE TABLE public.trips_low PARTITION OF public.trips FOR VALUES FROM (0) TO (10);
     CREATE TABLE public.trips_high PARTITION OF public.trips FOR VALUES FROM (10) TO (MAXVALUE) PARTITION BY LIST (v);
     CREATE TABLE public.trips_high_a PARTITION OF public.trips_high FOR VALUES IN ('a');
     CREATE TABLE public.trips_high_other PARTITION OF public.trips_high DEFAULT;
     INSERT INTO public.trips VALUES (1, 'x'), (11, 'a'), (12, 'b');`,
  );
  ({ storage } = await tempStorage());
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
  await exec(src.url, `DELETE FROM public.trips WHERE k = 1`);
  for (const mode of ['data-only', 'into-schema'] as const) {
    await expect(restoreBackup({ source: id, storage, targetUrl: src.url, ...(mode === 'data-only' ? { mode } : { intoSchema: 'side' }), tables: ['trips'] })).rejects.toMatchObject({
      code: 'usage',
      message: 'table trips is partitioned: its rows are in its partitions; name those (--tables public.trips_high_a,public.trips_high_other,public.trips_low)',
    });
  }
  expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM public.trips`)).rows[0].n)).toBe(2);
  // Named SQL-quoted (as a name with a space must be), the same hint, its names quoted where they need it.
  await exec(src.url, `CREATE SCHEMA "odd s"; CREATE TABLE "odd s"."Trips" (k int) PARTITION BY RANGE (k); CREATE TABLE "odd s"."low, part" PARTITION OF "odd s"."Trips" FOR VALUES FROM (0) TO (10); INSERT INTO "odd s"."Trips" VALUES (1)`);
  const { id: id2 } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public', 'odd s'] });
  await expect(restoreBackup({ source: id2, storage, targetUrl: src.url, intoSchema: 'side', tables: ['"odd s"."Trips"'] })).rejects.toMatchObject({
    code: 'usage',
    message: 'table "odd s"."Trips" is partitioned: its rows are in its partitions; name those (--tables "odd s"."low, part")',
  });
  await restoreBackup({ source: id2, storage, targetUrl: src.url, intoSchema: 'side', tables: ['"odd s"."low, part"'] });
  expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM side."low, part"`)).rows[0].n)).toBe(1);
  // Named as suggested, the reload works.
  await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['public.trips_high_a', 'public.trips_high_other', 'public.trips_low'] });
  expect(await withClient(src.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM public.trips`)).rows[0].n)).toBe(3);
}, 120_000);
