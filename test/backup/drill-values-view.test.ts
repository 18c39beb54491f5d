import { rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, scalar, tempStorage } from './restore-test-helpers';

// `CREATE VIEW v (a, b) AS VALUES …` deparses to `… FROM (VALUES …) "*VALUES*"`, which, created
// again by any restore (pg_dump | psql too), deparses to `… FROM ( VALUES …)`: the same query in
// other words. A drill compared the two texts and failed a backup that restores exactly.
const dbs: TestDatabase[] = [];
let storage: StorageBackend | undefined;
let dir: string | undefined;
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a view made of a top-level VALUES list with column names passes its drill, and a second generation (backup of the restore) too', async () => {
  const src = await createTestDatabase({ prefix: 'drlvals' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE VIEW public.fixed (k, v) AS VALUES (1, 'one'::text), (2, 'two');
     CREATE MATERIALIZED VIEW public.fixed_m (k) AS VALUES (10), (20);
     CREATE VIEW public.over_fixed AS SELECT f.k, f.v FROM public.fixed f JOIN public.fixed_m m ON m.k = f.k * 10`,
  );
  ({ storage, dir } = await tempStorage());
  const id = await backup(src.url, storage);
  const drill = await runDrill({ storage, id, serverUrl: serverUrl() });
  expect(drill.error).toBeNull();
  expect(drill.ok).toBe(true);

  const restored = await createTestDatabase({ prefix: 'drlvals' });
  dbs.push(restored);
  await restoreBackup({ source: id, storage, targetUrl: restored.url, mode: 'fresh' });
  const rows = `SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM public.over_fixed`;
  expect(await scalar(restored.url, rows)).toBe('1=one,2=two');
  expect(await scalar(restored.url, rows)).toBe(await scalar(src.url, rows));
  // The restored view deparses in the other spelling; its own backup drills green as well.
  expect(await scalar<string>(restored.url, `SELECT pg_get_viewdef('public.fixed'::regclass)`)).toContain('( VALUES ');
  const id2 = await backup(restored.url, storage);
  const drill2 = await runDrill({ storage, id: id2, serverUrl: serverUrl() });
  expect(drill2.error).toBeNull();
  expect(drill2.ok).toBe(true);
}, 120_000);
