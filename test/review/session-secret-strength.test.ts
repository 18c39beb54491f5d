import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionOptions } from '../../lib/auth/session-options';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { launch, tempDataDir } from '../start/launcher';

// SESSION_SECRET is the key of every admin's session cookie: "at least 32 characters" let 32 spaces
// (an env file's `SESSION_SECRET=` padded, a template's blank) or one character repeated through —
// a key anyone can guess, i.e. forged sessions. Refused like an unset one, by the app and npm start.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'sesssec' });
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

function withSecret<T>(secret: string, f: () => T): T {
  const saved = process.env.SESSION_SECRET;
  process.env.SESSION_SECRET = secret;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.SESSION_SECRET;
    else process.env.SESSION_SECRET = saved;
  }
}

describe('SESSION_SECRET strength', () => {
  it('the app refuses blank-padded and one-character secrets of 32+ characters, and accepts a random one', () => {
    for (const bad of [' '.repeat(40), `${' '.repeat(30)}ab`, 'a'.repeat(64), '\t'.repeat(32)]) {
      expect(() => withSecret(bad, () => sessionOptions()), JSON.stringify(bad)).toThrow(/SESSION_SECRET/);
    }
    expect(withSecret('0123456789abcdef0123456789abcdef', () => sessionOptions()).password).toBe('0123456789abcdef0123456789abcdef');
  });

  it('npm start refuses one with one line', async () => {
    const l = launch(['--no-web'], { DATABASE_URL: db.url, SESSION_SECRET: 'x'.repeat(48), TICKETHUB_DATA_DIR: await tempDataDir() });
    const code = await Promise.race([l.exit, new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000))]);
    if (code === 'running') {
      l.child.kill('SIGTERM');
      await l.exit;
    }
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(l.output()).toMatch(/^tickethub: SESSION_SECRET is one character repeated/m);
  }, 60_000);
});
