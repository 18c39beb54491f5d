import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase } from '../helpers/db';
import { exec } from './restore-test-helpers';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: an enum without labels, a composite type without attributes, a shell type, a domain over an enum array, a foreign table as an inheritance child, a generated column calling another schema in a partitioned table, row security on a partition (test/fixtures/nasty-held-out-11.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-11.sql', ['s11', 'f11'], cleanup);
}, 300_000);

it('refuses a foreign table that is a partition, naming it and why, and stores nothing', async () => {
  const db = await createTestDatabase({ prefix: 'ho11' });
  cleanup.push(() => db.drop());
  await exec(
    db.url,
    `CREATE EXTENSION IF NOT EXISTS file_fdw;
     CREATE SERVER files11r FOREIGN DATA WRAPPER file_fdw;
     CREATE TABLE public.sales (id int, day date) PARTITION BY RANGE (day);
     CREATE FOREIGN TABLE public.sales_archive PARTITION OF public.sales FOR VALUES FROM ('2000-01-01') TO ('2026-01-01')
       SERVER files11r OPTIONS (filename '/dev/null', format 'csv')`,
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ho11-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = openStorage(path.join(dir, 'store'));
  try {
    await expect(runBackup({ databaseUrl: db.url, storage, trigger: 'cli', schemas: ['public'] })).rejects.toMatchObject({
      code: 'incompatible',
      message: expect.stringContaining(`foreign table partition public.sales_archive (a restore would leave its parent's partitioned indexes invalid`),
    });
    expect(await storage.list()).toEqual([]);
  } finally {
    await storage.close();
  }
});
