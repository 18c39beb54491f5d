import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { verifyPassword } from '../../lib/auth/password';
import { startLocalDatabase } from '../../lib/db/local-database';
import { migrate } from '../../lib/db/migrate';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { tempDataDir } from '../start/launcher';

const ROOT = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string> = {}, input?: string) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.ADMIN_PASSWORD;
  delete base.TICKETHUB_DATA_DIR;
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', 'admin', ...args], { cwd: ROOT, env: { ...base, ...env }, input: input ?? '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function hashOf(url: string, email: string): Promise<{ role: string; password_hash: string; full_name: string } | undefined> {
  return withClient(url, async (c) => (await c.query('SELECT role, password_hash, full_name FROM public.admin_users WHERE lower(email) = lower($1)', [email])).rows[0]);
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'cli_admin' });
});
afterAll(async () => {
  await db?.drop();
});

describe('tickethub-backup admin', () => {
  it('creates an admin with a given password, refuses a duplicate, and audits without secrets', async () => {
    const env = { DATABASE_URL: db.url };
    const r = cli(['create', '--email', 'Meron@TicketHub.et', '--name', 'ሜሮን ታደሰ', '--password', 'first-password'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('created admin Meron@TicketHub.et (ሜሮን ታደሰ)\n');
    const row = await hashOf(db.url, 'meron@tickethub.et');
    expect(row?.role).toBe('admin');
    expect(row?.full_name).toBe('ሜሮን ታደሰ');
    expect(await verifyPassword(row!.password_hash, 'first-password')).toBe(true);

    const dup = cli(['create', '--email', 'meron@tickethub.et', '--password', 'other-password'], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('tickethub-backup admin: an admin with email Meron@TicketHub.et already exists (use `admin reset-password --email Meron@TicketHub.et`)\n');
    expect(await verifyPassword((await hashOf(db.url, 'meron@tickethub.et'))!.password_hash, 'first-password')).toBe(true);

    const logs = await withClient(db.url, async (c) => (await c.query(`SELECT action, metadata::text AS m FROM public.activity_logs WHERE entity_type = 'admin_user'`)).rows);
    expect(logs.map((l) => l.action)).toEqual(['ADMIN_CREATED']);
    expect(logs[0].m).not.toContain('first-password');
  });

  it('resets a password from stdin, from ADMIN_PASSWORD, or to a generated one printed once', async () => {
    const env = { DATABASE_URL: db.url };
    expect(cli(['create', '--email', 'staff1@tickethub.et', '--role', 'staff', '--password', 'staff-password'], env).code).toBe(0);

    const fromStdin = cli(['reset-password', '--email', 'STAFF1@tickethub.et', '--password-stdin'], env, 'from-stdin-pw\n');
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    let row = await hashOf(db.url, 'staff1@tickethub.et');
    expect(row?.role).toBe('staff'); // a reset keeps the role
    expect(await verifyPassword(row!.password_hash, 'from-stdin-pw')).toBe(true);

    const fromEnv = cli(['reset-password', '--email', 'staff1@tickethub.et'], { ...env, ADMIN_PASSWORD: 'from-env-password' });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).not.toMatch(/password:/);
    row = await hashOf(db.url, 'staff1@tickethub.et');
    expect(await verifyPassword(row!.password_hash, 'from-env-password')).toBe(true);

    const generated = cli(['reset-password', '--email', 'staff1@tickethub.et'], env);
    expect(generated.code).toBe(0);
    const pw = /^password: (\S+)$/m.exec(generated.stdout)?.[1];
    expect(pw?.length).toBeGreaterThanOrEqual(16);
    row = await hashOf(db.url, 'staff1@tickethub.et');
    expect(await verifyPassword(row!.password_hash, pw!)).toBe(true);
    expect(await verifyPassword(row!.password_hash, 'from-env-password')).toBe(false);
  });

  it('rejects bad input with one line and changes nothing', async () => {
    const env = { DATABASE_URL: db.url };
    const unknown = cli(['reset-password', '--email', 'nobody@tickethub.et', '--password', 'whatever-pw'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('tickethub-backup admin: no admin with email nobody@tickethub.et\n');
    const role = cli(['create', '--email', 'x@tickethub.et', '--role', 'owner', '--password', 'long-enough'], env);
    expect(role.code).toBe(2);
    expect(role.stderr).toMatch(/unknown role 'owner'/);
    const short = cli(['create', '--email', 'x@tickethub.et', '--password', 'short'], env);
    expect(short.code).toBe(2);
    expect(short.stderr).toBe('tickethub-backup admin: admin password must be at least 8 characters\n');
    const noEmail = cli(['create'], env);
    expect(noEmail.code).toBe(2);
    expect(noEmail.stderr).toBe('tickethub-backup admin: --email is required; usage: tickethub-backup admin create|reset-password --email EMAIL [options] (see --help)\n');
    expect(await hashOf(db.url, 'x@tickethub.et')).toBeUndefined();
    const down = cli(['create', '--email', 'x@tickethub.et', '--password', 'long-enough'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^tickethub-backup admin: cannot connect to the database: .*ECONNREFUSED.*\n$/);
  });

  it('without DATABASE_URL uses the local database of npm start, or says there is none', async () => {
    const dir = await tempDataDir();
    try {
      const none = cli(['reset-password', '--email', 'admin@tickethub.local'], { TICKETHUB_DATA_DIR: dir });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/DATABASE_URL is not set and there is no local database in .* \(run `npm start` once, or set DATABASE_URL\)/);

      // Make a local cluster as `npm start` would, then stop it: the CLI starts it for itself.
      process.env.TICKETHUB_DATA_DIR = dir;
      try {
        const local = await startLocalDatabase();
        await migrate(local.url);
        await local.close();
      } finally {
        delete process.env.TICKETHUB_DATA_DIR;
      }
      const created = cli(['create', '--email', 'admin@tickethub.local', '--role', 'super_admin', '--password', 'local-password'], { TICKETHUB_DATA_DIR: dir });
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const reset = cli(['reset-password', '--email', 'admin@tickethub.local', '--password', 'local-password-2'], { TICKETHUB_DATA_DIR: dir });
      expect(reset.code).toBe(0);
      expect(reset.stdout).toBe('password of admin@tickethub.local reset\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
