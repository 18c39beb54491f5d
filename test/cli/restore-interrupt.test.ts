import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, dropDatabase, urlFor, withClient, type TestDatabase } from '../helpers/db';
import { backup, tempStorage } from '../backup/restore-test-helpers';

// Ctrl-C during `restore --create --jobs N` (not atomic): the database --create made is dropped,
// and the one line says so (it said "the target is PARTLY restored; drop and recreate it").

const ROOT = path.resolve(import.meta.dirname, '../..');

let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let url: string;
let id: string;
const name = `h9_interrupt_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'rintr' });
  await withClient(src.url, (c) => c.query(`CREATE TABLE public.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS t FROM generate_series(1, 600000) g`));
  ({ storage, dir, url } = await tempStorage());
  id = await backup(src.url, storage);
}, 300_000);

afterAll(async () => {
  await dropDatabase(name);
  await storage?.close();
  await rm(dir, { recursive: true, force: true });
  await src?.drop();
});

async function databaseExists(): Promise<boolean> {
  return withClient(urlFor('postgres'), async (c) => Boolean((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount));
}

it('SIGINT while a --create --jobs 2 restore loads: exit 1, one line saying interrupted and that the new database was dropped; it is gone', async () => {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  const p = spawn(process.execPath, ['bin/tickethub-backup.mjs', 'restore', id, '--storage', url, '--target-url', urlFor(name), '--create', '--jobs', '2', '--yes'], { cwd: ROOT, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
  // Interrupt once the server is loading rows into the new database (a state, not a delay).
  for (;;) {
    const loading = await withClient(urlFor('postgres'), async (c) => (await c.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'COPY%'", [name])).rowCount);
    if (loading) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  p.kill('SIGINT');
  const code = await exited;
  const errors = stderr.split('\n').filter((l) => l.startsWith('tickethub-backup restore:'));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/interrupted/);
  expect(errors[0]).toMatch(/ — the database --create made was dropped again$/);
  expect(errors[0]).not.toMatch(/PARTLY/);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/rolling back/);
  expect(code).toBe(1);
  expect(await databaseExists()).toBe(false);
}, 120_000);
