import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { ACCOUNT_FREE_FAILURES } from '../../lib/auth/login-throttle';
import { safeNextPath } from '../../lib/http/safe-next-path';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const PASSWORD = 'correct horse battery';
let db: TestDatabase;
let direct: AppServer; // TRUST_PROXY_HOPS=0 (default: reached directly)
let proxied: AppServer; // TRUST_PROXY_HOPS=1 (one reverse proxy in front)

function login(app: AppServer, email: string, password: string, headers: Record<string, string> = {}) {
  return fetch(`${app.baseUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email, password }) });
}

const ip = (i: number) => `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, async (c) => {
    for (const e of ['victim@tickethub.et', 'spread@tickethub.et', 'owner@tickethub.et', 'lan@tickethub.et']) await upsertAdmin(c, { email: e, password: PASSWORD, fullName: 'ሙከራ', role: 'admin' });
  });
  [direct, proxied] = await Promise.all([
    startAppServer({ databaseUrl: db.url }),
    startAppServer({ databaseUrl: db.url, env: { TRUST_PROXY_HOPS: '1' } }),
  ]);
}, 600_000);

afterAll(async () => {
  await direct?.stop();
  await proxied?.stop();
  await db?.drop();
});

describe('sign-in throttling (issue 7 item 7)', () => {
  it('TRUST_PROXY_HOPS=0: 30 guesses with a rotating X-Forwarded-For are throttled, and the right password is then refused too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await login(direct, 'victim@tickethub.et', `guess ${i}`, { 'x-forwarded-for': ip(i) })).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    expect((await login(direct, 'victim@tickethub.et', PASSWORD, { 'x-forwarded-for': '203.0.113.77' })).status).toBe(429);
    // The audit trail records the real peer, not the claimed addresses.
    const ips = await withClient(db.url, async (c) => (await c.query(`SELECT DISTINCT ip FROM login_attempts WHERE email = 'victim@tickethub.et'`)).rows.map((r) => r.ip));
    expect(ips).toEqual(['127.0.0.1']);
  });

  it('per-account backoff holds across addresses: after the free failures every address waits, growing exponentially', async () => {
    for (let i = 0; i < ACCOUNT_FREE_FAILURES; i++) expect((await login(proxied, 'spread@tickethub.et', `guess ${i}`, { 'x-forwarded-for': ip(100 + i) })).status, `guess ${i}`).toBe(401);
    // A new address with the right password is refused while the backoff lasts.
    const blocked = await login(proxied, 'spread@tickethub.et', PASSWORD, { 'x-forwarded-for': ip(200) });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Each further failure doubles the wait (aged in the table instead of sleeping).
    const waits: number[] = [];
    for (let k = 0; k < 4; k++) {
      await withClient(db.url, (c) => c.query(`UPDATE login_attempts SET attempted_at = attempted_at - interval '20 minutes' WHERE email = 'spread@tickethub.et' AND attempted_at > now() - interval '1 hour'`));
      expect((await login(proxied, 'spread@tickethub.et', 'still guessing', { 'x-forwarded-for': ip(300 + k) })).status).toBe(401);
      waits.push(Number((await login(proxied, 'spread@tickethub.et', PASSWORD, { 'x-forwarded-for': ip(400 + k) })).headers.get('retry-after')));
    }
    for (let k = 1; k < waits.length; k++) expect(waits[k]).toBeGreaterThanOrEqual(waits[k - 1] * 2 - 2);
    expect(Math.max(...waits)).toBeLessThanOrEqual(15 * 60);
  });

  it('cannot lock the real admin out: an address the account signed in from before is exempt from the account backoff', async () => {
    expect((await login(proxied, 'owner@tickethub.et', PASSWORD, { 'x-forwarded-for': '192.0.2.10' })).status).toBe(200);
    for (let i = 0; i < ACCOUNT_FREE_FAILURES + 5; i++) await login(proxied, 'owner@tickethub.et', `attack ${i}`, { 'x-forwarded-for': ip(500 + i) });
    expect((await login(proxied, 'owner@tickethub.et', PASSWORD, { 'x-forwarded-for': ip(600) })).status).toBe(429);
    expect((await login(proxied, 'owner@tickethub.et', PASSWORD, { 'x-forwarded-for': '192.0.2.10' })).status).toBe(200);
  });
});

describe('sign-in over plain http and the page asked for (issue 12)', () => {
  it('the session cookie is Secure only for HTTPS: plain http (a LAN address) gets a cookie the browser keeps; X-Forwarded-Proto counts only from a trusted proxy', async () => {
    const plain = await login(direct, 'lan@tickethub.et', PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(plain.status).toBe(200);
    expect(plain.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))).not.toMatch(/;\s*Secure/i);
    const behindTls = await login(proxied, 'lan@tickethub.et', PASSWORD, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '192.0.2.44' });
    expect(behindTls.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))).toMatch(/;\s*Secure/i);
    const behindPlain = await login(proxied, 'lan@tickethub.et', PASSWORD, { 'x-forwarded-proto': 'http', 'x-forwarded-for': '192.0.2.44' });
    expect(behindPlain.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))).not.toMatch(/;\s*Secure/i);
  });

  it('SESSION_COOKIE_SECURE=true forces Secure even over plain http', async () => {
    const forced = await startAppServer({ databaseUrl: db.url, env: { SESSION_COOKIE_SECURE: 'true' } });
    try {
      const res = await login(forced, 'lan@tickethub.et', PASSWORD);
      expect(res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))).toMatch(/;\s*Secure/i);
    } finally {
      await forced.stop();
    }
  });

  it('a page asked for without a session sends to the login page with next=, which only accepts this app\'s /admin paths', async () => {
    const res = await fetch(`${direct.baseUrl}/admin/backups?cursor=abc`, { redirect: 'manual' });
    expect([302, 307]).toContain(res.status);
    const loc = new URL(res.headers.get('location')!, direct.baseUrl);
    expect(loc.pathname).toBe('/admin/login');
    expect(loc.searchParams.get('next')).toBe('/admin/backups?cursor=abc');
    expect(safeNextPath('/admin/backups?cursor=abc')).toBe('/admin/backups?cursor=abc');
    for (const bad of ['//evil.example/admin', '/\\evil.example', 'https://evil.example/admin', 'javascript:alert(1)', '/admin/../../etc', '/elsewhere', '/admin/login?next=/x', '', '/%2F%2Fevil.example', '/admin\u0000x']) {
      const got = safeNextPath(bad);
      expect(got === '/admin' || got.startsWith('/admin/'), bad).toBe(true);
      expect(new URL(got, 'http://app.invalid').origin, bad).toBe('http://app.invalid');
      expect(got.startsWith('/admin/login'), bad).toBe(false);
    }
  });
});
