import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';

// Hostile command lines: each is refused with ONE line naming the cause and exit 2, before anything
// is opened (no database, no storage touched).

const ROOT = path.resolve(import.meta.dirname, '../..');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'hostile-args-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function cli(args: string[], extraEnv: Record<string, string> = {}) {
  const env = { ...process.env, BACKUP_STORAGE_URL: tmp, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never_opened', ...extraEnv };
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function refused(args: string[], message: string | RegExp) {
  const r = cli(args);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
  expect(r.stderr.trimEnd()).toMatch(message);
  expect(r.code).toBe(2);
}

describe('usage errors', () => {
  it('a flag given twice is refused, not "last one wins" (--mode fresh --mode replace quietly replaced the database)', async () => {
    refused(['restore', 'x', '--mode', 'fresh', '--mode', 'replace', '--yes'], /^tickethub-backup restore: option '--mode' given more than once; usage: tickethub-backup restore /);
    refused(['restore', 'x', '--target-db', 'a', '--target-db', 'b', '--yes'], /option '--target-db' given more than once/);
    refused(['backup', '--storage', tmp, '--storage', tmp], /^tickethub-backup backup: option '--storage' given more than once; usage: tickethub-backup backup /);
    refused(['prune', '--dry-run', '--dry-run'], /option '--dry-run' given more than once/);
    refused(['admin', 'create', '--email', 'a@example.com', '--email', 'b@example.com'], /^tickethub-backup admin: option '--email' given more than once; usage: tickethub-backup admin create\|reset-password/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('an empty value is refused, not taken as "the default" (--database-url "" backed up DATABASE_URL)', async () => {
    refused(['backup', '--database-url', ''], /^tickethub-backup backup: option '--database-url' needs a value, got an empty string; usage: /);
    refused(['restore', 'x', '--target-db', '', '--yes'], /option '--target-db' needs a value, got an empty string/);
    refused(['restore', 'x', '--storage=', '--yes'], /option '--storage' needs a value, got an empty string/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a database URL that is not postgres:// is refused by the option\'s name before connecting', () => {
    refused(['backup', '--database-url', 'http://127.0.0.1:5432/x'], 'tickethub-backup backup: --database-url is not a valid postgres:// URL');
    refused(['backup', '--database-url', 'postgres://127.0.0.1:99999/x'], 'tickethub-backup backup: --database-url is not a valid postgres:// URL');
    refused(['restore', 'x', '--target-url', 'mysql://u@h/db', '--yes'], 'tickethub-backup restore: --target-url is not a valid postgres:// URL');
    refused(['verify', 'x', '--drill', '--drill-url', 'not a url'], 'tickethub-backup verify: --drill-url is not a valid postgres:// URL');
    refused(['prune', '--database-url', 'file:///tmp/db'], 'tickethub-backup prune: --database-url is not a valid postgres:// URL');
    refused(['admin', 'create', '--email', 'a@example.com', '--password', 'long enough', '--database-url', 'http://x'], 'tickethub-backup admin: --database-url is not a valid postgres:// URL');
    // libpq's Unix-socket form with a user name (empty host after '@'): refused by URL parsing, with the spelling that works.
    refused(['backup', '--database-url', 'postgres://app@/tickets?host=/var/run/postgresql'], 'tickethub-backup backup: --database-url is not a valid postgres:// URL (for a Unix socket with a user name, write postgresql:///DATABASE?host=/socket/dir&user=NAME)');
  });

  it('--target-db whose name cannot go through a connection URL (? # %) is refused before anything is created', () => {
    for (const name of ['x?host=/tmp', 'x#frag', 'x%41']) {
      refused(['restore', 'x', '--target-db', name, '--create', '--yes'], `tickethub-backup restore: --target-db ${JSON.stringify(name)}: PostgreSQL's client cannot reach a database whose name holds this in a URL (?, # or %); choose another name`);
    }
  });

  it('numbers are digits only: 1e1, 0x2, " 2", 1.5 are refused', () => {
    for (const v of ['1e1', '0x2', ' 2', '1.5', '0', '17', 'abc']) {
      refused(['restore', 'x', '--jobs', v, '--yes'], `tickethub-backup restore: --jobs must be an integer from 1 to 16, got ${JSON.stringify(v)}`);
      refused(['backup', '--workers', v], `tickethub-backup backup: --workers must be an integer from 1 to 16, got ${JSON.stringify(v)}`);
    }
  });

  it('a manifest holding one 12 MB string: show and verify say what is wrong with it (was "Maximum call stack size exceeded")', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hostile-manifest-'));
    try {
      const id = '20261202T000000Z-hugehuge';
      await writeFile(path.join(dir, `${id}.manifest.json`), `{"format":"tickethub-backup","note":"${'a'.repeat(12_000_000)}"}`);
      const show = cli(['show', id, '--storage', dir]);
      expect(show.stderr).toBe(`tickethub-backup show: backup ${id}: unknown archive format version undefined (this version reads 1, 2, 3)\n`);
      expect(show.code).toBe(1);
      const verify = cli(['verify', id, '--storage', dir]);
      expect(verify.stderr).not.toMatch(/call stack/);
      expect(verify.stderr).toMatch(/unknown archive format version undefined/);
      expect(verify.code).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unknown flag is one short line; version takes no arguments', () => {
    refused(['show', '--bogus'], "tickethub-backup show: Unknown option '--bogus'; usage: tickethub-backup show <id> [--storage URL] [--json]");
    refused(['version', '--bogus'], "tickethub-backup version: Unknown option '--bogus'; usage: tickethub-backup version");
    refused(['version', 'extra'], /^tickethub-backup version: /);
  });
});

describe('backup settings out of range', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: true, prefix: 'hostile' });
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('BACKUP_GZIP_LEVEL 12 / 0 / 1.5 and BACKUP_WORKERS 99 / 0 fail the backup with one line naming the variable (they were clamped silently); nothing stored, no run left running', async () => {
    const cases: Array<[string, string, string]> = [
      ['BACKUP_GZIP_LEVEL', '12', '1 to 9'],
      ['BACKUP_GZIP_LEVEL', '0', '1 to 9'],
      ['BACKUP_GZIP_LEVEL', '1.5', '1 to 9'],
      ['BACKUP_WORKERS', '99', '1 to 16'],
      ['BACKUP_WORKERS', '0', '1 to 16'],
    ];
    for (const [name, value, range] of cases) {
      const r = cli(['backup'], { DATABASE_URL: db.url, [name]: value });
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`tickethub-backup backup: ${name} must be a whole number from ${range}, got ${JSON.stringify(value)}\n`);
      expect(r.code).toBe(1);
    }
    expect(await readdir(tmp)).toEqual([]);
    const running = await withClient(db.url, async (c) => (await c.query("SELECT count(*)::int AS n FROM backup_runs WHERE status = 'running'")).rows[0].n);
    expect(running).toBe(0);
  }, 120_000);

  it('BACKUP_SPOOL_DIR that is a file: one line naming the variable (was a bare "ENOTDIR: not a directory, mkdtemp …")', async () => {
    const spool = path.join(os.tmpdir(), `hostile-spool-file-${process.pid}`);
    await writeFile(spool, 'not a directory');
    try {
      const r = cli(['backup'], { DATABASE_URL: db.url, BACKUP_SPOOL_DIR: spool });
      expect(r.stderr).toBe(`tickethub-backup backup: spool directory ${spool} (BACKUP_SPOOL_DIR) is not usable: ENOTDIR\n`);
      expect(r.code).toBe(1);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      await rm(spool, { force: true });
    }
  });

  it('stdout closed by its reader (`prune --dry-run | head`): no EPIPE stack trace, the command ends with its own exit code', async () => {
    const p = spawn(process.execPath, ['bin/tickethub-backup.mjs', 'prune', '--dry-run', '--database-url', db.url, '--storage', tmp], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.destroy();
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

