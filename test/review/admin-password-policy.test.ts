import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { launch, tempDataDir } from '../start/launcher';

// The admin accounts hold every customer's data and every backup: a super_admin password of
// "password" or "12345678" (8 characters, so accepted) is the first guess of anyone who finds the
// sign-in page. The one gate (upsertAdmin: CLI, npm start's ADMIN_PASSWORD) refuses the most common
// passwords, one character repeated, and the email address itself (OWASP ASVS 2.1.7 in small).

const ROOT = path.resolve(import.meta.dirname, '../..');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'pwpol' });
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

const admins = () => withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM public.admin_users`)).rows[0].n as number);

describe('admin password policy', () => {
  it('refuses common passwords, a repeated character and the email, with one line; accepts a passphrase', async () => {
    const cases: [string, RegExp][] = [
      ['password', /one of the most common passwords/],
      ['Password1', /one of the most common passwords/],
      ['12345678', /one of the most common passwords/],
      ['qwertyuiop', /one of the most common passwords/],
      ['aaaaaaaaaa', /one character repeated/],
      ['boss@tickethub.et', /must not be the email address/],
      ['boss1234', /must not be the email address/],
      ['Boss@2026!', /must not be the email address/],
    ];
    for (const [password, why] of cases) {
      await expect(withClient(db.url, (c) => upsertAdmin(c, { email: 'boss@tickethub.et', password })), password).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(why) });
    }
    expect(await admins()).toBe(0);
    await withClient(db.url, (c) => upsertAdmin(c, { email: 'boss@tickethub.et', password: 'correct horse 1' }));
    expect(await admins()).toBe(1);
  });

  it('the CLI: one line, exit 2, nothing created', async () => {
    const before = await admins();
    const env = { ...process.env };
    delete env.ADMIN_PASSWORD;
    const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', 'admin', 'create', '--email', 'ops@tickethub.et', '--password-stdin', '--database-url', db.url], { cwd: ROOT, env, input: '12345678\n', encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['tickethub-backup admin: admin password is one of the most common passwords: choose another (a few unrelated words are easy to remember and hard to guess)']);
    expect(await admins()).toBe(before);
  });

  it('npm start with ADMIN_PASSWORD=password refuses before anything starts', async () => {
    const l = launch(['--no-web'], { ADMIN_EMAIL: 'boss@tickethub.et', ADMIN_PASSWORD: 'password', DATABASE_URL: db.url, TICKETHUB_DATA_DIR: await tempDataDir() });
    // (Before the fix it prepared the database and kept running: stopped here, not left behind.)
    const code = await Promise.race([l.exit, new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000))]);
    if (code === 'running') {
      l.child.kill('SIGTERM');
      await l.exit;
    }
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(l.output()).toMatch(/^tickethub: ADMIN_PASSWORD is one of the most common passwords: choose another/m);
    expect(l.output()).not.toMatch(/applied migrations|database schema is up to date/);
  }, 60_000);
});
