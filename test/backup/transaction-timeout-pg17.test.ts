import os from 'node:os';
import path from 'node:path';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../helpers/db';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../lib/db/embedded';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// PostgreSQL 17's transaction_timeout, set by a DBA on a database (or role), ends any transaction
// that runs longer, the backup's snapshot and the atomic restore's one transaction included.
// pg_dump 17 and its archive header turn it off; so must we. Before: 'terminating connection due
// to transaction timeout' for every backup longer than the timeout.
let pg17: EmbeddedDatabase | undefined;
let tmp: string;
let storage: StorageBackend;

function url(db: string): string {
  const u = new URL(pg17!.url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function sql(db: string, text: string): Promise<string | undefined> {
  return withClient(url(db), async (c) => {
    const r = await c.query(text);
    const rows = (Array.isArray(r) ? r[r.length - 1] : r).rows as Record<string, string>[];
    return rows[0] ? Object.values(rows[0])[0] : undefined;
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tx-timeout-'));
  await chmod(tmp, 0o777);
  pg17 = await startEmbeddedPostgres(path.join(tmp, 'pg17'), { quiet: true });
  storage = openStorage(path.join(tmp, 'store'));
}, 600_000);

afterAll(async () => {
  await storage?.close();
  await pg17?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

it('a database transaction_timeout of 200 ms cuts no backup, atomic restore (--check-content) or restore --jobs 2 short', async () => {
  await sql('postgres', 'CREATE DATABASE src');
  await sql('src', `CREATE TABLE public.t (id int PRIMARY KEY, pad text NOT NULL); INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 400000) g; CREATE INDEX t_pad ON public.t (pad)`);
  const before = await sql('src', `SELECT md5(string_agg(pad, ',' ORDER BY id)) FROM public.t`);
  await sql('postgres', `ALTER DATABASE src SET transaction_timeout = '200ms'`);
  const { id, rows } = await runBackup({ databaseUrl: url('src'), storage, trigger: 'cli' });
  expect(rows).toBe(400000);
  for (const jobs of [1, 2]) {
    const db = `target_${jobs}`;
    await sql('postgres', `CREATE DATABASE ${db}`);
    await sql('postgres', `ALTER DATABASE ${db} SET transaction_timeout = '200ms'`);
    if (jobs === 1) await restoreBackup({ source: id, storage, targetUrl: url(db), checkContent: true });
    else await restoreParallel({ source: id, storage, targetUrl: url(db), jobs, checkContent: true });
    expect(await sql(db, `SET transaction_timeout = 0; SELECT md5(string_agg(pad, ',' ORDER BY id)) FROM public.t`), `jobs ${jobs}`).toBe(before);
  }
}, 300_000);
