import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, dropDatabase, serverUrl, urlFor, withClient, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { RestorePlan } from '../../lib/backup/restore/restore-types';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// A backup of a UTF8 database (Amharic names) restored into a LATIN1 one: the first value LATIN1
// cannot hold fails the restore at its row, after everything before it loaded (rolled back). The
// plan now says so before anything is loaded; into UTF8 it says nothing.

const dbs: TestDatabase[] = [];
const latin1: string[] = [];
let storage: StorageBackend | undefined;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
  for (const n of latin1) await dropDatabase(n).catch(() => undefined);
});

async function latin1Database(): Promise<string> {
  const name = `enc_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await withClient(serverUrl(), (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`));
  latin1.push(name);
  return urlFor(name);
}

it('a restore into a database of another encoding says so in its plan; a value it cannot hold fails the restore, rolled back', async () => {
  const src = await createTestDatabase({ prefix: 'encsrc' });
  dbs.push(src);
  await exec(src.url, `CREATE TABLE public.passengers (id int PRIMARY KEY, name text); INSERT INTO public.passengers VALUES (1, 'Abebe'), (2, 'Café')`);
  ({ storage } = await tempStorage());
  const ascii = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
  await exec(src.url, `INSERT INTO public.passengers VALUES (3, 'አበበ በቀለ')`);
  const amharic = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
  const warning = "the target database's encoding is LATIN1, the backup's UTF8: a value that LATIN1 cannot hold fails the restore at its row (rolled back); restore into a UTF8 database to keep every value";

  // Latin-1 text fits: restored, and the plan said what to watch for.
  const plans: RestorePlan[] = [];
  const ok = await latin1Database();
  await restoreBackup({ source: ascii, storage, targetUrl: ok, mode: 'fresh', onPlan: (p) => plans.push(p) });
  expect(plans[0].warnings).toContain(warning);
  expect(await withClient(ok, async (c) => (await c.query(`SELECT name FROM public.passengers ORDER BY id`)).rows.map((r) => r.name))).toEqual(['Abebe', 'Café']);

  // Amharic does not: the restore fails naming the table, and nothing is left.
  for (const run of ['atomic', 'jobs'] as const) {
    const bad = await latin1Database();
    const p: RestorePlan[] = [];
    const err = await (run === 'atomic'
      ? restoreBackup({ source: amharic, storage, targetUrl: bad, mode: 'fresh', onPlan: (x) => p.push(x) })
      : restoreParallel({ source: amharic, storage, targetUrl: bad, jobs: 2, onPlan: (x) => p.push(x) })
    ).catch((e: Error) => e);
    expect(p[0].warnings, run).toContain(warning);
    expect(err, run).toBeInstanceOf(Error);
    expect((err as Error).message, run).toMatch(/public\.passengers.*has no equivalent in encoding "LATIN1"/);
    if (run === 'atomic') expect(await withClient(bad, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).rows[0].n)).toBe(0);
  }

  // Into UTF8: no such warning.
  const same = await createTestDatabase({ prefix: 'encdst' });
  dbs.push(same);
  const q: RestorePlan[] = [];
  await restoreBackup({ source: amharic, storage, targetUrl: same.url, mode: 'fresh', onPlan: (x) => q.push(x) });
  expect(q[0].warnings.filter((w) => w.includes('encoding'))).toEqual([]);
}, 120_000);
