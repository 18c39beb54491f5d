import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// A foreign key that involves a partitioned table has a pg_constraint row per partition
// (conparentid set). Data-only reload of such a partition used to miss them: TRUNCATE failed
// ("cannot truncate a table referenced in a foreign key constraint") and nothing could be reloaded.

const dbs: TestDatabase[] = [];
let storage: StorageBackend | undefined;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

const state = (url: string) =>
  withClient(url, async (c) => {
    const q = async (sql: string) => (await c.query(sql)).rows.map((r) => Object.values(r).join('|'));
    return {
      trips: await q(`SELECT t::text FROM public.trips t ORDER BY 1`),
      seats: await q(`SELECT s::text FROM public.seats s ORDER BY 1`),
      bookings: await q(`SELECT b::text FROM public.bookings b ORDER BY 1`),
      fks: await q(`SELECT conrelid::regclass::text, confrelid::regclass::text, conname, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2, 3`),
    };
  });

it('reloads a partition that a foreign key references, and a partition of a partitioned table that has a foreign key; the keys come back whole and validated; a reference the backup cannot satisfy is refused by name and nothing changes', async () => {
  const src = await createTestDatabase({ prefix: 'partfk' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE TABLE public.trips (id int, region text, dest text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
     CREATE TABLE public.trips_addis PARTITION OF public.trips FOR VALUES IN ('addis');
     CREATE TABLE public.trips_other PARTITION OF public.trips DEFAULT;
     CREATE TABLE public.bookings (id int PRIMARY KEY, trip_id int, region text,
       FOREIGN KEY (trip_id, region) REFERENCES public.trips (id, region) ON DELETE SET NULL (trip_id));
     CREATE TABLE public.seats (trip_id int, region text, seat int, FOREIGN KEY (trip_id, region) REFERENCES public.trips (id, region)) PARTITION BY RANGE (seat);
     CREATE TABLE public.seats_front PARTITION OF public.seats FOR VALUES FROM (1) TO (20);
     CREATE TABLE public.seats_back PARTITION OF public.seats FOR VALUES FROM (20) TO (MAXVALUE);
     INSERT INTO public.trips VALUES (1, 'addis', 'Adama'), (2, 'addis', 'Hawassa'), (3, 'gondar', 'Bahir Dar');
     INSERT INTO public.bookings VALUES (10, 1, 'addis'), (11, 3, 'gondar'), (12, NULL, 'addis');
     INSERT INTO public.seats VALUES (1, 'addis', 5), (3, 'gondar', 25);`,
  );
  ({ storage } = await tempStorage());
  const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['public'] });
  const before = await state(src.url);

  await exec(src.url, `UPDATE public.trips SET dest = 'changed'; UPDATE public.seats SET seat = seat + 1`);
  await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['public.trips_addis', 'public.trips_other', 'public.seats_front'] });
  expect(await state(src.url)).toEqual({ ...before, seats: ['(1,addis,5)', '(3,gondar,26)'] });

  // A booking of a trip the backup does not have: refused by name, the target unchanged.
  await exec(src.url, `INSERT INTO public.trips VALUES (4, 'addis', 'Dire Dawa'); INSERT INTO public.bookings VALUES (13, 4, 'addis'); UPDATE public.trips SET dest = 'changed again' WHERE id = 1`);
  const changed = await state(src.url);
  await expect(restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['public.trips_addis'] })).rejects.toMatchObject({
    message: expect.stringContaining('1 row(s) of public.bookings (constraint bookings_trip_id_region_fkey) reference rows of public.trips that the backup does not have'),
  });
  expect(await state(src.url)).toEqual(changed);
}, 120_000);

it('--cascade from a table that a partitioned table references reloads that table\'s partitions (where its rows are), and says so', async () => {
  const src = await createTestDatabase({ prefix: 'partfkc' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE TABLE public.routes (id int PRIMARY KEY, name text);
     CREATE TABLE public.legs (id int, route_id int REFERENCES public.routes (id), km int) PARTITION BY RANGE (id);
     CREATE TABLE public.legs_a PARTITION OF public.legs FOR VALUES FROM (0) TO (10);
     CREATE TABLE public.legs_b PARTITION OF public.legs FOR VALUES FROM (10) TO (MAXVALUE) PARTITION BY LIST (km);
     CREATE TABLE public.legs_b_rest PARTITION OF public.legs_b DEFAULT;
     INSERT INTO public.routes VALUES (1, 'Addis–Adama'), (2, 'Addis–Gondar');
     INSERT INTO public.legs VALUES (1, 1, 99), (11, 2, 730);`,
  );
  const { storage: s } = await tempStorage();
  const { id } = await runBackup({ databaseUrl: src.url, storage: s, trigger: 'cli', schemas: ['public'] });
  const rows = () => withClient(src.url, async (c) => (await c.query(`SELECT (SELECT string_agg(r::text, ',' ORDER BY id) FROM public.routes r) AS routes, (SELECT string_agg(l::text, ',' ORDER BY id) FROM public.legs l) AS legs`)).rows[0]);
  const before = await rows();
  // A route the backup lacks, used by a leg: only --cascade (reloading the legs too) can reload routes.
  await exec(src.url, `INSERT INTO public.routes VALUES (3, 'new'); UPDATE public.legs SET route_id = 3, km = km + 1`);
  let plan: string[] = [];
  await restoreBackup({ source: id, storage: s, targetUrl: src.url, mode: 'data-only', tables: ['public.routes'], cascade: true, onPlan: (p) => (plan = p.actions) });
  expect(await rows()).toEqual(before);
  expect(plan).toContain('also reload public.legs_a: a partition of public.legs, which references public.routes (legs_route_id_fkey) (--cascade)');
  expect(plan).toContain('also reload public.legs_b_rest: a partition of public.legs, which references public.routes (legs_route_id_fkey) (--cascade)');
  await s.close();
}, 120_000);
