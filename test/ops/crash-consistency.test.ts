import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_LOST } from '../../lib/backup/control-session';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
let tmp: string;
let spool: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'crash' });
  // Enough incompressible-ish data that a backup takes seconds and spools chunks to disk.
  await withClient(db.url, (c) =>
    c.query(`CREATE TABLE public.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5(random()::text) AS a, md5(random()::text) AS b
             FROM generate_series(1, 400000) g`),
  );
  tmp = await mkdtemp(path.join(os.tmpdir(), 'crash-'));
  spool = path.join(tmp, 'spool');
  await mkdir(spool);
}, 120_000);
afterAll(async () => {
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, BACKUP_SPOOL_DIR: spool, BACKUP_CHUNK_MB: '4', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const runningRows = () => withClient(db.url, async (c) => (await c.query(`SELECT id FROM backup_runs WHERE status = 'running'`)).rows.map((r) => r.id as string));
const spoolDirs = () => readdirSync(spool).filter((n) => n.startsWith('tickethub-backup-'));
const spoolFiles = () => spoolDirs().flatMap((d) => readdirSync(path.join(spool, d)));
const tempFiles = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));

describe('private files', () => {
  it('local storage writes archives and manifests 0600 in 0700 directories it creates', async () => {
    const dir = path.join(tmp, 'private', 'nested');
    const r = await runBackup({ databaseUrl: db.url, storage: openStorage(dir), trigger: 'cli', verify: false });
    expect((await stat(path.join(dir, `${r.id}.sql.gz`))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, `${r.id}.manifest.json`))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.dirname(dir))).mode & 0o777).toBe(0o700);
  }, 120_000);

  it('spool files of a CLI backup are 0600 in a 0700 directory', async () => {
    const dir = path.join(tmp, 'private-cli');
    const run = startCli(['backup', '--database-url', db.url, '--storage', dir, '--no-verify']);
    let seen: { dir: number; file: number } | null = null;
    await until('a spool file', () => {
      for (const d of spoolDirs()) {
        try {
          const files = readdirSync(path.join(spool, d));
          if (files.length) seen = { dir: statSync(path.join(spool, d)).mode & 0o777, file: statSync(path.join(spool, d, files[0])).mode & 0o777 };
        } catch {
          // removed between listing and stat
        }
      }
      return seen !== null;
    });
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(seen).toEqual({ dir: 0o700, file: 0o600 });
  }, 120_000);
});

describe('crash leftovers (issue 7 item 4)', () => {
  it('3 backups killed with SIGKILL at different moments, then one good backup: no temp file in storage, no spool left, no running row', async () => {
    const dir = path.join(tmp, 'killed');
    // Kill moments: right after the run is recorded, while it spools chunks, while it writes storage.
    const moments: [string, (id: string) => boolean][] = [
      ['the running row', () => true],
      ['a spool file', (id) => spoolDirs().some((d) => d.includes(id) && readdirSync(path.join(spool, d)).length > 0)],
      ['a temp file in storage', (id) => {
        try {
          return tempFiles(dir).some((f) => f.includes(id));
        } catch {
          return false;
        }
      }],
    ];
    const killed: string[] = [];
    const leftSpool: boolean[] = [];
    for (const [what, cond] of moments) {
      const run = startCli(['backup', '--database-url', db.url, '--storage', dir]);
      let id = '';
      await until('its running row', async () => {
        id = (await runningRows()).find((x) => !killed.includes(x)) ?? '';
        return id !== '';
      });
      await until(what, () => cond(id));
      killed.push(id);
      run.child.kill('SIGKILL');
      const r = await run.done;
      expect(r.signal).toBe('SIGKILL');
      leftSpool.push(spoolDirs().some((d) => d.includes(id)));
      // The server notices the dead client and ends its sessions (releasing the lock).
      await until('its sessions to end', async () => withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name LIKE 'tickethub-backup%' AND datname = current_database()`)).rows[0].n === 0), 20_000);
    }
    expect(new Set(killed).size).toBe(3);
    // What the kills left: the run killed while spooling left its spool directory, the last one its
    // temp file in storage (each new run cleans up after the dead ones before it starts).
    expect(leftSpool[1]).toBe(true);
    expect(tempFiles(dir).some((f) => f.includes(killed[2]))).toBe(true);
    expect(await runningRows()).toEqual([killed[2]]); // the two before were failed by the next run

    const good = startCli(['backup', '--database-url', db.url, '--storage', dir, '--json']);
    const r = await good.done;
    expect(r.code, r.stderr).toBe(0);
    expect(tempFiles(dir)).toEqual([]);
    expect(spoolDirs()).toEqual([]);
    expect(await runningRows()).toEqual([]);
    await withClient(db.url, async (c) => {
      const rows = (await c.query(`SELECT id, status FROM backup_runs WHERE id = ANY($1)`, [killed])).rows;
      expect(rows.map((x) => x.status)).toEqual(['failed', 'failed', 'failed']);
    });
    const files = await readdir(dir);
    expect(files.filter((f) => f.endsWith('.manifest.json'))).toEqual([`${JSON.parse(r.stdout).id}.manifest.json`]);
  }, 300_000);

  it('a stuck running row is failed as soon as reindex (or prune) looks, not at the next backup', async () => {
    const dir = path.join(tmp, 'stuck');
    const run = startCli(['backup', '--database-url', db.url, '--storage', dir]);
    await until('the running row', async () => (await runningRows()).length > 0);
    run.child.kill('SIGKILL');
    await run.done;
    await until('the killed session to end', async () => withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name LIKE 'tickethub-backup%' AND datname = current_database()`)).rows[0].n === 0), 20_000);
    expect((await runningRows()).length).toBe(1);
    const ri = startCli(['reindex', '--database-url', db.url, '--storage', dir]);
    const r = await ri.done;
    expect(r.code, r.stderr).toBe(0);
    expect(await runningRows()).toEqual([]);
    expect(spoolDirs()).toEqual([]);
  }, 120_000);
});

describe('control session terminated mid-run (issue 7 item 6)', () => {
  it('the run fails cleanly: CLI exit 1 naming the cause, row failed with it, no manifest, list agrees', async () => {
    const dir = path.join(tmp, 'control');
    const run = startCli(['backup', '--database-url', db.url, '--storage', dir]);
    await until('a spool file (the run is copying)', () => spoolFiles().length > 0);
    const id = (await runningRows())[0];
    expect(id).toBeTruthy();
    const n = await withClient(db.url, async (c) =>
      (await c.query(`SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tickethub-backup control' AND datname = current_database()) t`)).rows[0].n,
    );
    expect(n).toBe(1);
    const r = await run.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('control session');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    await withClient(db.url, async (c) => {
      const row = (await c.query('SELECT status, error FROM backup_runs WHERE id = $1', [id])).rows[0];
      expect(row).toEqual({ status: 'failed', error: CONTROL_LOST });
      expect((await c.query(`SELECT count(*)::int n FROM activity_logs WHERE action = 'BACKUP_FAILED' AND entity_id = $1`, [id])).rows[0].n).toBe(1);
    });
    const files = await readdir(dir).catch(() => [] as string[]);
    expect(files.filter((f) => f.startsWith(id))).toEqual([]);
    const list = startCli(['list', '--storage', dir, '--json']);
    const l = await list.done;
    expect(JSON.parse(l.stdout).filter((b: { id: string }) => b.id === id)).toEqual([]);
  }, 120_000);
});
