import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';

const ROOT = path.resolve(import.meta.dirname, '../..');

function migrateScript(env: Record<string, string>) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.MIGRATIONS_DIR;
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], { cwd: ROOT, env: { ...base, ...env }, encoding: 'utf8' });
}

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'migscript' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'migscript-'));
});
afterAll(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run db:migrate', () => {
  it('applies every migration once, then reports the database up to date', () => {
    const first = migrateScript({ DATABASE_URL: db.url });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^db:migrate: applied 001_tickethub_schema\ndb:migrate: applied 002_backup_runs\n/);
    const second = migrateScript({ DATABASE_URL: db.url });
    expect(second.status).toBe(0);
    expect(second.stdout).toBe('db:migrate: database is up to date (nothing to apply)\n');
  });

  it('names a failing migration in one line, exits 1 and keeps the earlier ones', async () => {
    const other = await createTestDatabase({ prefix: 'migscript_bad' });
    try {
      await writeFile(path.join(dir, '001_ok.sql'), 'CREATE TABLE public.ok_table (id int);');
      await writeFile(path.join(dir, '002_bad.sql'), 'CREATE TABLE public.half_table (id int);\nSELECT 1/0;');
      const r = migrateScript({ DATABASE_URL: other.url, MIGRATIONS_DIR: dir });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('db:migrate: migration 002_bad failed: division by zero\n');
      const t = await withClient(other.url, (c) => c.query(`SELECT to_regclass('public.ok_table') AS ok, to_regclass('public.half_table') AS half`));
      expect(t.rows[0]).toEqual({ ok: 'ok_table', half: null });
    } finally {
      await other.drop();
    }
  });

  it('rejects a missing, malformed or unreachable DATABASE_URL with one line', () => {
    const unset = migrateScript({});
    expect(unset.status).toBe(1);
    expect(unset.stderr).toBe('db:migrate: DATABASE_URL is not set\n');
    const bad = migrateScript({ DATABASE_URL: 'not a url' });
    expect(bad.stderr).toBe('db:migrate: DATABASE_URL is not a valid postgres:// URL\n');
    const down = migrateScript({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' });
    expect(down.status).toBe(1);
    expect(down.stderr).toBe('db:migrate: cannot connect to the database: connect ECONNREFUSED 127.0.0.1:1\n');
  });
});
