import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { startS3Server } from '../helpers/s3-server';
import type { TestS3Server } from '../helpers/s3-server';
import pg from 'pg';
import { openStorage } from '../../lib/storage/open-storage';
import { listBackups } from '../../lib/backup/list-backups';
import { recoverStaleRuns, STALE_RUN_ERROR } from '../../lib/backup/backup-runs';
import { downloadArchive, gunzipIntoPsql, tableHashes } from '../backup/backup-test-helpers';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let app: TestDatabase;
let tmp: string;
let s3: TestS3Server;
const extra: TestDatabase[] = [];

beforeAll(async () => {
  app = await createTestDatabase({ migrate: true, prefix: 'bkcli' });
  await withClient(app.url, async (c) => {
    await c.query(`INSERT INTO public.telegram_users (telegram_id, username, first_name, last_name, phone)
                   SELECT 1000 + g, 'user' || g, 'ሰላም', 'ተስፋዬ ' || g, '+2519' || lpad(g::text, 8, '0') FROM generate_series(1, 3000) g`);
    await c.query(`INSERT INTO public.activity_logs (action, entity_type, description) SELECT 'SEEDED', 'system', 'ረድፍ ' || g FROM generate_series(1, 5000) g`);
  });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'backup-cli-'));
  s3 = await startS3Server();
});
afterAll(async () => {
  for (const d of [app, ...extra]) await d?.drop().catch(() => {});
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function restoreAndCompare(storageUrl: string, id: string, before: Awaited<ReturnType<typeof tableHashes>>, env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const storage = openStorage(storageUrl);
  try {
    const file = path.join(tmp, `${id}.sql.gz`);
    await downloadArchive(storage, id, file);
    const target = await createTestDatabase({ prefix: 'bkcli_r' });
    extra.push(target);
    await gunzipIntoPsql(file, target.url);
    expect(await tableHashes(target.url)).toEqual({ ...before, 'public.backup_runs': { rows: 0, hash: '' } });
  } finally {
    await storage.close();
    process.env = saved;
  }
}

describe('tickethub-backup backup / list / show / reindex', () => {
  it('backup --json to a directory prints one JSON object; list and show read it back; the archive restores', async () => {
    const before = await tableHashes(app.url);
    const rows = Object.entries(before).reduce((n, [t, v]) => n + (t === 'public.backup_runs' ? 0 : v.rows), 0);
    const dir = path.join(tmp, 'store');
    const r = await cli(['backup', '--json', '--database-url', app.url, '--storage', dir, '--description', 'from the CLI']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(out).toMatchObject({ status: 'succeeded', tables: expect.any(Number), rows, sizeBytes: expect.any(Number), durationMs: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(out.location).toBe(`file://${dir}/${out.id}.sql.gz`);
    expect((await readdir(dir)).sort()).toEqual([`${out.id}.manifest.json`, `${out.id}.sql.gz`]);

    const list = await cli(['list', '--json', '--storage', dir]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: out.id, status: 'succeeded', rows, tables: out.tables, sizeBytes: out.sizeBytes })]);
    const table = await cli(['list', '--storage', dir]);
    expect(table.stdout).toMatch(new RegExp(`^ID\\s+STARTED\\s+TABLES\\s+ROWS\\s+SIZE\\s+STATUS\\n${out.id}\\s+\\S+\\s+${out.tables}\\s+${rows.toLocaleString('en-US')}\\s+[0-9.]+ KB\\s+succeeded\\n$`));

    const show = await cli(['show', out.id, '--storage', dir]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/public\.telegram_users\s+3,000\s+1/);
    expect(show.stdout).toMatch(/public\.backup_runs\s+excluded/);
    const showJson = await cli(['show', out.id, '--json', '--storage', dir]);
    expect(JSON.parse(showJson.stdout).archive.sha256).toBe(out.sha256);

    const run = await withClient(app.url, async (c) => (await c.query('SELECT status, trigger, description FROM public.backup_runs WHERE id = $1', [out.id])).rows[0]);
    expect(run).toEqual({ status: 'succeeded', trigger: 'cli', description: 'from the CLI' });
    const log = await withClient(app.url, async (c) => (await c.query('SELECT action, user_agent FROM public.activity_logs WHERE entity_id = $1', [out.id])).rows);
    expect(log).toEqual([{ action: 'MANUAL_BACKUP', user_agent: 'tickethub-backup-cli' }]);

    await restoreAndCompare(dir, out.id, before);

    // reindex from the CLI brings lost bookkeeping back.
    await withClient(app.url, (c) => c.query('DELETE FROM public.backup_runs'));
    const re = await cli(['reindex', '--database-url', app.url, '--storage', dir]);
    expect(re.code).toBe(0);
    expect(re.stdout).toMatch(/1 backup\(s\) recorded/);
    const back = await withClient(app.url, async (c) => (await c.query('SELECT id, status FROM public.backup_runs')).rows);
    expect(back).toEqual([{ id: out.id, status: 'succeeded' }]);
  });

  it('the same round trip through S3 (s3rver), defaults from DATABASE_URL and BACKUP_STORAGE_URL', async () => {
    const before = await tableHashes(app.url);
    const env = { ...s3.env, DATABASE_URL: app.url, BACKUP_STORAGE_URL: s3.url };
    const r = await cli(['backup', '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.location).toBe(`${s3.url}/${out.id}.sql.gz`);
    const list = await cli(['list', '--json'], env);
    expect(JSON.parse(list.stdout).map((b: { id: string }) => b.id)).toEqual([out.id]);
    await restoreAndCompare(s3.url, out.id, before, s3.env);
  });

  it('a backup process killed with SIGKILL leaves nothing listed, and its run is marked failed (not running forever)', async () => {
    const big = await createTestDatabase({ migrate: true, prefix: 'bkcli_kill' });
    extra.push(big);
    await withClient(big.url, async (c) => {
      await c.query(`CREATE TABLE public.big (id int PRIMARY KEY, body text NOT NULL)`);
      await c.query(`INSERT INTO public.big SELECT g, repeat(md5(g::text), 10) FROM generate_series(1, 300000) g`);
    });
    const dir = path.join(tmp, 'killed');
    // TMPDIR inside this file's temp directory: a killed backup cannot remove its spool directory.
    const child = spawn(process.execPath, [BIN, 'backup', '--database-url', big.url, '--storage', dir], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, TMPDIR: tmp } });
    const exited = new Promise((r) => child.on('close', r));
    const watcher = new pg.Client({ connectionString: big.url });
    await watcher.connect();
    try {
      let copying = false;
      for (let i = 0; i < 1000 && !copying; i++) {
        const r = await watcher.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY%big%' AND state = 'active'`);
        copying = (r.rowCount ?? 0) > 0;
        if (!copying) await new Promise((res) => setTimeout(res, 10));
      }
      expect(copying).toBe(true);
      child.kill('SIGKILL');
      await exited;
      const running = (await watcher.query(`SELECT id, status FROM public.backup_runs`)).rows;
      expect(running).toEqual([{ id: expect.any(String), status: 'running' }]);
      const storage = openStorage(dir);
      expect(await listBackups(storage)).toEqual([]);
      await storage.close();
      // The dead session released the lock, so the dashboard's recovery call fixes the row.
      let recovered: string[] = [];
      for (let i = 0; i < 50 && !recovered.length; i++) {
        const pool = new pg.Pool({ connectionString: big.url });
        recovered = await recoverStaleRuns(pool);
        await pool.end();
        if (!recovered.length) await new Promise((res) => setTimeout(res, 100)); // the server notices the dead socket
      }
      expect(recovered).toEqual([running[0].id]);
      expect((await watcher.query(`SELECT status, error FROM public.backup_runs`)).rows).toEqual([{ status: 'failed', error: STALE_RUN_ERROR }]);
    } finally {
      await watcher.end();
    }
  });

  it('usage errors exit 2; failures exit 1 with one line on stderr and nothing on stdout', async () => {
    const bad = await cli(['backup', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^tickethub-backup backup: Unknown option '--bogus'/);
    expect((await cli(['show'])).code).toBe(2);
    expect((await cli(['show', 'not-an-id', '--storage', tmp])).code).toBe(2);

    const missing = await cli(['show', '20200101T000000Z-abcdef12', '--storage', path.join(tmp, 'store')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^tickethub-backup show: no backup 20200101T000000Z-abcdef12 in file:\/\/.+\n$/);

    const down = await cli(['backup', '--json', '--database-url', 'postgres://postgres@127.0.0.1:1/nowhere', '--storage', path.join(tmp, 'down')]);
    expect(down.code).toBe(1);
    expect(down.stdout).toBe('');
    expect(down.stderr).toMatch(/^tickethub-backup backup: cannot connect to the database 127\.0\.0\.1:1\/nowhere: .+\n$/);
    expect(await readdir(path.join(tmp, 'down')).catch(() => [])).toEqual([]);
  });

  it('without DATABASE_URL uses the local npm start database, and says so when there is none', async () => {
    const env = { DATABASE_URL: '', TICKETHUB_DATA_DIR: path.join(tmp, 'no-local-data') };
    for (const cmd of [['backup', '--storage', path.join(tmp, 'nolocal')], ['reindex', '--storage', path.join(tmp, 'nolocal')]]) {
      const r = await cli(cmd, env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^tickethub-backup ${cmd[0]}: DATABASE_URL is not set and there is no local database in .+no-local-data \\(run \`npm start\` once, or set DATABASE_URL\\)\n$`));
    }
    expect(await readdir(path.join(tmp, 'nolocal')).catch(() => [])).toEqual([]);
  });
});
