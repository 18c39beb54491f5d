import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, urlFor, withClient, type TestDatabase } from '../helpers/db';
import { tempStorage } from '../backup/restore-test-helpers';

// Ctrl-C pressed twice during `backup`: the second one killed the process with node's default
// (exit 130, not a word on stderr) while the first one's cleanup ran.

const ROOT = path.resolve(import.meta.dirname, '../..');

let db: TestDatabase;
let dir: string;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'bintr' });
  await withClient(db.url, (c) => c.query(`CREATE TABLE public.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS t FROM generate_series(1, 600000) g`));
  ({ dir, url } = await tempStorage());
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

it('two SIGINTs while the backup reads: exit 1, the lines say interrupted, nothing left in storage, the run is failed (not running)', async () => {
  const p = spawn(process.execPath, ['bin/tickethub-backup.mjs', 'backup', '--database-url', db.url, '--storage', url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
  const name = new URL(db.url).pathname.slice(1);
  // Interrupt once the server is sending rows (a state, not a delay), then again at once.
  for (;;) {
    const reading = await withClient(urlFor('postgres'), async (c) => (await c.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'COPY%'", [name])).rowCount);
    if (reading) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  p.kill('SIGINT');
  p.kill('SIGINT');
  const code = await exited;
  expect(stderr).toMatch(/^\ninterrupted: stopping the backup and removing what it wrote…\n/);
  expect(stderr.trimEnd().split('\n').at(-1)).toBe('tickethub-backup backup: the backup was interrupted');
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(code).toBe(1);
  expect(await readdir(dir)).toEqual([]);
  const runs = await withClient(db.url, async (c) => (await c.query('SELECT status FROM backup_runs')).rows.map((r) => r.status));
  expect(runs).toEqual(['failed']);
}, 120_000);
