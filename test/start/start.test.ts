import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../lib/db/embedded';
import { verifyPassword } from '../../lib/auth/password';
import { ensureAppBuilt } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import { launch, processesMentioning, tempDataDir } from './launcher';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newDataDir(): Promise<string> {
  const d = await tempDataDir();
  dirs.push(d);
  return d;
}

describe('npm start (database part, --no-web)', () => {
  it('first start creates, migrates and seeds the embedded database and prints a demo admin once; the second start reuses it', async () => {
    const dir = await newDataDir();
    const first = launch(['--no-web'], { TICKETHUB_DATA_DIR: dir });
    const out1 = await first.waitFor(/database ready at (postgres:\S+)/);
    expect(out1).toMatch(/applied migrations: 001_tickethub_schema/);
    expect(out1).toMatch(/first start: seeding demo data \(scale 2000\)/);
    const password = /password: (\S+)/.exec(out1)?.[1];
    expect(password).toBeTruthy();
    // The banner masks the superuser password and says where it is; the full URL is in embedded.json (0600).
    const banner = /database ready at (postgres:\S+)/.exec(out1)![1];
    expect(new URL(banner).password).toBe('***');
    const pgPassword = (await readFile(path.join(dir, 'pg.password'), 'utf8')).trim();
    expect(out1).not.toContain(pgPassword);
    expect(out1).toContain(`password in ${path.join(dir, 'pg.password')}`);
    expect((await stat(path.join(dir, 'embedded.json'))).mode & 0o777).toBe(0o600);
    const url = (JSON.parse(await readFile(path.join(dir, 'embedded.json'), 'utf8')) as { url: string }).url;
    expect(decodeURIComponent(new URL(url).password)).toBe(pgPassword);
    await withClient(url, async (c) => {
      const admin = await c.query(`SELECT role, password_hash FROM public.admin_users WHERE email = 'admin@tickethub.local'`);
      expect(admin.rows[0].role).toBe('super_admin');
      expect(await verifyPassword(admin.rows[0].password_hash, password!)).toBe(true);
      expect((await c.query('SELECT count(*)::int AS n FROM public.tickets')).rows[0].n).toBe(2000);
    });
    const secret = await stat(path.join(dir, 'session-secret'));
    expect(secret.mode & 0o777).toBe(0o600);
    expect(processesMentioning(dir).some((l) => l.includes('postgres'))).toBe(true);

    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    // No orphan postgres left behind, and the CLI hand-off file is gone.
    expect(processesMentioning(dir)).toEqual([]);
    expect(existsSync(path.join(dir, 'embedded.json'))).toBe(false);

    const second = launch(['--no-web'], { TICKETHUB_DATA_DIR: dir });
    const out2 = await second.waitFor(/database ready at/);
    expect(out2).not.toContain(pgPassword);
    expect(out2).not.toMatch(/seeding demo data/);
    expect(out2).not.toMatch(/password:/);
    expect(out2).toMatch(/database schema is up to date/);
    expect(out2).toMatch(/demo admin admin@tickethub\.local exists .*admin reset-password --email admin@tickethub\.local/);
    second.child.kill('SIGINT');
    expect(await second.exit).toBe(130);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('with DATABASE_URL: migrates, does not seed, and creates/updates the ADMIN_EMAIL admin', async () => {
    const db = await createTestDatabase();
    try {
      const dir = await newDataDir();
      const run = launch(['--no-web'], { TICKETHUB_DATA_DIR: dir, DATABASE_URL: db.url, ADMIN_EMAIL: 'Owner@Example.et', ADMIN_PASSWORD: 'correct horse 1' });
      const out = await run.waitFor(/database ready/);
      expect(out).toMatch(/admin Owner@Example\.et created from ADMIN_EMAIL\/ADMIN_PASSWORD \(super_admin\)/);
      expect(out).not.toMatch(/seeding|password:/);
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(0);
      await withClient(db.url, async (c) => {
        expect((await c.query('SELECT count(*)::int AS n FROM public.tickets')).rows[0].n).toBe(0);
        const a = await c.query(`SELECT role, password_hash FROM public.admin_users WHERE lower(email) = 'owner@example.et'`);
        expect(a.rows[0].role).toBe('super_admin');
        expect(await verifyPassword(a.rows[0].password_hash, 'correct horse 1')).toBe(true);
      });
      // A changed ADMIN_PASSWORD is applied on the next start; --seed seeds the (still empty) database.
      const again = launch(['--no-web', '--seed'], { TICKETHUB_DATA_DIR: dir, DATABASE_URL: db.url, ADMIN_EMAIL: 'owner@example.et', ADMIN_PASSWORD: 'battery staple 2' });
      const out2 = await again.waitFor(/database ready/);
      expect(out2).toMatch(/admin Owner@Example\.et updated/);
      expect(out2).toMatch(/--seed: seeding demo data/);
      again.child.kill('SIGTERM');
      expect(await again.exit).toBe(0);
      await withClient(db.url, async (c) => {
        const a = await c.query(`SELECT password_hash FROM public.admin_users WHERE lower(email) = 'owner@example.et'`);
        expect(await verifyPassword(a.rows[0].password_hash, 'battery staple 2')).toBe(true);
        expect((await c.query('SELECT count(*)::int AS n FROM public.tickets')).rows[0].n).toBe(2000);
      });
    } finally {
      await db.drop();
    }
  });

  it('refuses a taken port and an unreachable DATABASE_URL with one line and exit 1', async () => {
    const dir = await newDataDir();
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, () => r()));
    try {
      const taken = launch([], { TICKETHUB_DATA_DIR: dir, PORT: String(port) });
      expect(await taken.exit).toBe(1);
      expect(taken.output().trim()).toBe(`tickethub: port ${port} is already in use (stop the other process or set PORT)`);
    } finally {
      blocker.close();
    }
    expect(existsSync(path.join(dir, 'pg'))).toBe(false); // failed before touching any database

    const down = launch([], { TICKETHUB_DATA_DIR: dir, PORT: String(await freePort()), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/tickethub' });
    expect(await down.exit).toBe(1);
    expect(down.output().trim().split('\n').at(-1)).toMatch(/^tickethub: cannot connect to the database: connect ECONNREFUSED 127\.0\.0\.1:1$/);

    const bad = launch([], { TICKETHUB_DATA_DIR: dir, DATABASE_URL: 'mysql://x@y/z' });
    expect(await bad.exit).toBe(1);
    expect(bad.output().trim()).toBe('tickethub: DATABASE_URL is not a valid postgres:// URL');
  });

  it('refuses an invalid BACKUP_SCHEDULE or BACKUP_TZ with one line and exit 1 before starting anything (a server that never backs up must not look started)', async () => {
    const dir = await newDataDir();
    for (const [env, want] of [
      [{ BACKUP_SCHEDULE: '0 2 * *' }, /^tickethub: BACKUP_SCHEDULE "0 2 \* \*" must be a cron expression of 5 fields/],
      [{ BACKUP_SCHEDULE: '61 2 * * *' }, /^tickethub: BACKUP_SCHEDULE "61 2 \* \* \*" is not a valid cron expression/],
      [{ BACKUP_TZ: 'Africa/Addis Ababa' }, /^tickethub: BACKUP_TZ "Africa\/Addis Ababa" is not an IANA time zone/],
    ] as const) {
      const run = launch([], { TICKETHUB_DATA_DIR: dir, PORT: String(await freePort()), ...env });
      expect(await run.exit, JSON.stringify(env)).toBe(1);
      expect(run.output().trim().split('\n'), JSON.stringify(env)).toHaveLength(1);
      expect(run.output().trim()).toMatch(want);
    }
    expect(existsSync(path.join(dir, 'pg'))).toBe(false);
  });
});

// The full start (build + next start) runs on the production build that the web tests share:
// ensureAppBuilt builds it when missing or stale, under the same lock the web tests take, and keeps
// it from being rebuilt while this launcher's server runs.
describe('npm start (web app)', () => {
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await ensureAppBuilt(`${process.pid}-start-test`);
  }, 600_000);
  afterAll(() => release?.());

  it('serves /admin/login, signs in the ADMIN_EMAIL admin, protects /admin/backups, and stops cleanly', async () => {
    const dir = await newDataDir();
    const port = await freePort();
    const run = launch([], { TICKETHUB_DATA_DIR: dir, PORT: String(port), ADMIN_EMAIL: 'ops@tickethub.et', ADMIN_PASSWORD: 'start-test-password' });
    try {
      await run.waitFor(/TicketHub is running at http:\/\/localhost:\d+\/admin\/login/, 180_000);
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/admin/login`)).status).toBe(200);
      const wrong = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@tickethub.et', password: 'nope-nope' }) });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ops@tickethub.et', password: 'start-test-password' }) });
      expect(ok.status).toBe(200);
      const cookie = ok.headers.get('set-cookie')?.split(';')[0];
      expect(cookie).toBeTruthy();
      const anon = await fetch(`${base}/admin/backups`, { redirect: 'manual' });
      expect([302, 303, 307, 308]).toContain(anon.status);
      expect(anon.headers.get('location')).toMatch(/\/admin\/login/);
      const signedIn = await fetch(`${base}/admin/backups`, { headers: { cookie: cookie! }, redirect: 'manual' });
      expect(signedIn.status).toBe(200);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exit).toBe(0);
    expect(run.output().trimEnd().split('\n').at(-1)).toBe(`tickethub: SIGTERM: stopped the web app (port ${port}) and the embedded PostgreSQL (data in ${path.join(dir, 'pg')})`);
    expect(processesMentioning(dir)).toEqual([]);
    expect(processesMentioning(`-p ${port}`)).toEqual([]);
  });
});
