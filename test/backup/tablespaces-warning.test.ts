import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { exec, scalar, tempStorage } from './restore-test-helpers';

// Tablespaces are directories of one server: the backup does not name them (as pg_dump
// --no-tablespaces) and says which relations were in one, instead of restoring them elsewhere in
// silence.
const space = `tbs_${process.pid}`;
let src: TestDatabase;
let target: TestDatabase;
let storage: StorageBackend;
let dir: string;
let spaceDir: string;

beforeAll(async () => {
  // CREATE TABLESPACE wants an empty directory owned by the server's OS user: ours, or `postgres`
  // when we are root (the server on loopback then runs as postgres).
  spaceDir = mkdtempSync(path.join(os.tmpdir(), 'tbs-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(spaceDir, uid, gid);
  }
  await exec(serverUrl(), `CREATE TABLESPACE ${space} LOCATION '${spaceDir}'`);
  src = await createTestDatabase({ prefix: 'tbs' });
  target = await createTestDatabase({ prefix: 'tbs' });
  await exec(
    src.url,
    `CREATE TABLE public.fast (id int PRIMARY KEY USING INDEX TABLESPACE ${space}, v text) TABLESPACE ${space};
     CREATE INDEX fast_v ON public.fast (v) TABLESPACE ${space};
     CREATE TABLE public.plain (id int PRIMARY KEY);
     INSERT INTO public.fast VALUES (1, 'a'), (2, 'b'); INSERT INTO public.plain VALUES (1)`,
  );
  ({ storage, dir } = await tempStorage());
});

afterAll(async () => {
  await src?.drop();
  await target?.drop();
  await exec(serverUrl(), `DROP TABLESPACE IF EXISTS ${space}`).catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (spaceDir) await rm(spaceDir, { recursive: true, force: true });
});

it('names the tablespace, how many relations are in it and one of them; the restore puts them in the default tablespace with their rows', async () => {
  const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' });
  expect(r.status).toBe('succeeded');
  const w = (r.warnings ?? []).filter((x) => x.includes('tablespaces'));
  expect(w).toEqual([
    `not in this backup: tablespaces — ${space}: 3 relations (public.fast, …); a restore creates them in the target database's default tablespace (as pg_dump --no-tablespaces): move them after if needed (ALTER TABLE … SET TABLESPACE)`,
  ]);
  expect(JSON.stringify(r.manifest.warnings)).toContain(space);
  await restoreBackup({ source: r.id, storage, targetUrl: target.url, mode: 'fresh' });
  expect(await scalar(target.url, `SELECT string_agg(v, ',' ORDER BY id) FROM public.fast`)).toBe('a,b');
  expect(await scalar(target.url, `SELECT count(*)::int FROM pg_catalog.pg_class WHERE reltablespace <> 0 AND relnamespace = 'public'::regnamespace`)).toBe(0);
  // Without a relation in another tablespace, no such warning.
  await exec(src.url, `DROP TABLE public.fast`);
  const again = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' });
  expect((again.warnings ?? []).filter((x) => x.includes('tablespaces'))).toEqual([]);
});
