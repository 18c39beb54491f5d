import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logActivity } from '../../lib/activity/log-activity';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const PASSWORD = 'correct horse battery';
let db: TestDatabase;
let app: AppServer;

async function login(email: string, password: string, ip = '10.0.0.1', proto = 'https'): Promise<Response> {
  return fetch(`${app.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, 'x-forwarded-proto': proto },
    body: JSON.stringify({ email, password }),
  });
}

/** The `name=value` pair of the session cookie from a response, for sending back. */
function sessionCookie(res: Response): string {
  const sc = res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='));
  if (!sc) throw new Error('no session cookie');
  return sc.split(';')[0];
}

async function signedIn(email: string): Promise<string> {
  const res = await login(email, PASSWORD, `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`);
  expect(res.status).toBe(200);
  return sessionCookie(res);
}

const get = (p: string, cookie?: string) => fetch(`${app.baseUrl}${p}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, async (c) => {
    await upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD, fullName: 'አበበ ከበደ', role: 'super_admin' });
    await upsertAdmin(c, { email: 'staff@tickethub.et', password: PASSWORD, fullName: 'Staff Member', role: 'staff' });
    await upsertAdmin(c, { email: 'throttled@tickethub.et', password: PASSWORD, role: 'admin' });
    await upsertAdmin(c, { email: 'gone@tickethub.et', password: PASSWORD, role: 'admin' });
    await c.query(`UPDATE admin_users SET is_active = false WHERE email = 'gone@tickethub.et'`);
  });
  // These tests stand for clients at several addresses: as behind one proxy that writes X-Forwarded-For.
  app = await startAppServer({ databaseUrl: db.url, env: { TRUST_PROXY_HOPS: '1' } });
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

describe('POST /api/auth/login', () => {
  it('signs in with the right password: 200, user JSON, an HttpOnly SameSite=Lax Secure cookie expiring within 8 h', async () => {
    const res = await login('ROOT@tickethub.et', PASSWORD);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.user).toMatchObject({ email: 'root@tickethub.et', fullName: 'አበበ ከበደ', role: 'super_admin' });
    expect(body.user.passwordHash).toBeUndefined();
    const sc = res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))!;
    expect(sc).toMatch(/;\s*HttpOnly/i);
    expect(sc).toMatch(/;\s*SameSite=Lax/i);
    expect(sc).toMatch(/;\s*Secure/i); // X-Forwarded-Proto: https from the trusted proxy
    const maxAge = Number(/Max-Age=(\d+)/i.exec(sc)?.[1]);
    expect(maxAge).toBeGreaterThan(7 * 3600);
    expect(maxAge).toBeLessThanOrEqual(8 * 3600);
    // The cookie is sealed: neither the id nor the email is readable in it.
    expect(sc).not.toContain('root@tickethub.et');
    const last = await withClient(db.url, (c) => c.query(`SELECT last_sign_in_at FROM admin_users WHERE email = 'root@tickethub.et'`));
    expect(Date.now() - new Date(last.rows[0].last_sign_in_at).getTime()).toBeLessThan(60_000);
  });

  it('answers 401 with one generic message for a wrong password, an unknown email and an inactive account', async () => {
    for (const [email, pw] of [['root@tickethub.et', 'wrong password'], ['nobody@tickethub.et', PASSWORD], ['gone@tickethub.et', PASSWORD]]) {
      const res = await login(email, pw, '10.9.9.9');
      expect(res.status, email).toBe(401);
      expect(res.headers.getSetCookie().some((c) => c.startsWith('tickethub_session='))).toBe(false);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'Invalid email or password' } });
    }
  });

  it('answers 400 to malformed JSON and to a body without the fields', async () => {
    for (const body of ['{"email": "root@tickethub.et", "password": ', 'not json', '{"email": "root@tickethub.et"}', '[]']) {
      const res = await fetch(`${app.baseUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status, body).toBe(400);
      expect((await res.json()).error.code).toBe('bad_request');
    }
  });

  it('throttles: after 5 failures for an email from one address the 6th attempt is 429, even with the right password', async () => {
    const email = 'throttled@tickethub.et';
    for (let i = 1; i <= 5; i++) expect((await login(email, `guess ${i}`, '10.5.5.5')).status, `attempt ${i}`).toBe(401);
    const sixth = await login(email, PASSWORD, '10.5.5.5');
    expect(sixth.status).toBe(429);
    const retry = Number(sixth.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(14 * 60);
    expect(retry).toBeLessThanOrEqual(15 * 60);
    expect((await sixth.json()).error.code).toBe('rate_limited');
    // Another address is not blocked for the same email.
    expect((await login(email, PASSWORD, '10.6.6.6')).status).toBe(200);
    // Still blocked from the first one; when the window has passed (aged in the table) it is open again.
    expect((await login(email, PASSWORD, '10.5.5.5')).status).toBe(429);
    await withClient(db.url, (c) => c.query(`UPDATE login_attempts SET attempted_at = attempted_at - interval '16 minutes' WHERE ip = '10.5.5.5'`));
    expect((await login(email, PASSWORD, '10.5.5.5')).status).toBe(200);
  });

  it('parallel guesses cannot slip past the limit', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login('root@tickethub.et', `parallel ${i}`, '10.7.7.7')));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
  });

  it('writes sign-ins and failures to activity_logs, never the password', async () => {
    const { rows } = await withClient(db.url, (c) =>
      c.query(`SELECT action, ip_address, metadata::text AS meta, description FROM activity_logs WHERE action LIKE 'ADMIN_SIGN_IN%'`),
    );
    expect(rows.some((r) => r.action === 'ADMIN_SIGN_IN' && r.ip_address === '10.0.0.1')).toBe(true);
    expect(rows.some((r) => r.action === 'ADMIN_SIGN_IN_FAILED' && r.meta.includes('nobody@tickethub.et'))).toBe(true);
    const all = JSON.stringify(rows);
    expect(all).not.toContain('wrong password');
    expect(all).not.toContain(PASSWORD);
  });
});

describe('pages and API authorization', () => {
  it('/admin/backups redirects to /admin/login without a session and renders in the shell with one', async () => {
    const anon = await get('/admin/backups');
    expect([302, 307]).toContain(anon.status);
    expect(new URL(anon.headers.get('location')!, app.baseUrl).pathname).toBe('/admin/login');
    const cookie = await signedIn('root@tickethub.et');
    const res = await get('/admin/backups', cookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<h1[^>]*>Backups<\/h1>/);
    expect(html).toContain('href="/admin/activity"'); // the sidebar is there
    expect(html).toContain('አበበ ከበደ');
  });

  it('pages and API answers forbid framing and MIME sniffing', async () => {
    for (const p of ['/admin/login', '/api/admin/me']) {
      const res = await get(p);
      expect(res.headers.get('x-frame-options'), p).toBe('DENY');
      expect(res.headers.get('content-security-policy'), p).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
    }
  });

  it('a forged session cookie gets past the proxy but not the page or the API', async () => {
    const forged = 'tickethub_session=Fe26.2*1*forged';
    const page = await get('/admin', forged);
    expect([302, 307]).toContain(page.status);
    expect(page.headers.get('location')).toContain('/admin/login');
    expect((await get('/api/admin/me', forged)).status).toBe(401);
  });

  it('/api/admin: 401 JSON without a session, 403 for staff on backups, 200 for a super admin', async () => {
    const anon = await get('/api/admin/backups');
    expect(anon.status).toBe(401);
    expect((await anon.json()).error.code).toBe('unauthorized');
    const staff = await signedIn('staff@tickethub.et');
    const forbidden = await get('/api/admin/backups', staff);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error.code).toBe('forbidden');
    expect((await get('/api/admin/me', staff)).status).toBe(200);
    const root = await signedIn('root@tickethub.et');
    expect((await get('/api/admin/backups', root)).status).toBe(200);
  });

  it('staff do not see Backups in the sidebar and are sent away from the page', async () => {
    const staff = await signedIn('staff@tickethub.et');
    const dash = await get('/admin', staff);
    expect(dash.status).toBe(200);
    expect(await dash.text()).not.toContain('href="/admin/backups"');
    const res = await get('/admin/backups', staff);
    expect([302, 307]).toContain(res.status);
  });

  it('unknown routes: 401 JSON under /api/admin without a session, 404 JSON with one, 404 page under /admin', async () => {
    const root = await signedIn('root@tickethub.et');
    for (const [cookie, status, code] of [[undefined, 401, 'unauthorized'], [root, 404, 'not_found']] as const) {
      const res = await get('/api/admin/no-such-thing', cookie);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect((await res.json()).error.code).toBe(code);
    }
    const page = await get('/admin/no-such-page', root);
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('Page not found');
  });

  it('the Amharic cookie switches the language of the page and the html lang', async () => {
    const root = await signedIn('root@tickethub.et');
    const html = await (await get('/admin/backups', `${root}; NEXT_LOCALE=am`)).text();
    expect(html).toContain('<html lang="am"');
    expect(html).toMatch(/<h1[^>]*>ምትኬዎች<\/h1>/);
    expect(html).toContain('ዳሽቦርድ');
  });

  it('a copied cookie stops working after sign-out, and after a password reset (but not a same-password re-apply)', async () => {
    const a = await signedIn('root@tickethub.et');
    const b = await signedIn('root@tickethub.et');
    expect((await get('/api/admin/me', a)).status).toBe(200);
    const out = await fetch(`${app.baseUrl}/api/auth/logout`, { method: 'POST', headers: { cookie: a } });
    expect(out.status).toBe(200);
    expect((await get('/api/admin/me', a)).status).toBe(401);
    const page = await get('/admin', a);
    expect([302, 307]).toContain(page.status);
    expect((await get('/api/admin/me', b)).status).toBe(200); // another device stays signed in
    // The launcher re-applies ADMIN_PASSWORD on each start: same password keeps sessions.
    await withClient(db.url, (c) => upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD }));
    expect((await get('/api/admin/me', b)).status).toBe(200);
    // A real reset ends them.
    await withClient(db.url, (c) => upsertAdmin(c, { email: 'root@tickethub.et', password: 'a brand new password' }));
    expect((await get('/api/admin/me', b)).status).toBe(401);
    await withClient(db.url, (c) => upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD }));
    // The stored session id is only a hash of what the cookie carries.
    const { rows } = await withClient(db.url, (c) => c.query(`SELECT id_hash FROM admin_sessions LIMIT 1`));
    expect(rows[0].id_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('logout ends the session in the browser and is recorded', async () => {
    const root = await signedIn('root@tickethub.et');
    const res = await fetch(`${app.baseUrl}/api/auth/logout`, { method: 'POST', headers: { cookie: root } });
    expect(res.status).toBe(200);
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))!;
    expect(cleared).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);
    const { rows } = await withClient(db.url, (c) => c.query(`SELECT count(*)::int AS n FROM activity_logs WHERE action = 'ADMIN_SIGN_OUT'`));
    expect(rows[0].n).toBe(2);
  });
});

describe('/admin dashboard', () => {
  it('shows the real counts from the database, formatted for the locale', async () => {
    await withClient(db.url, async (c) => {
      await c.query(`INSERT INTO telegram_users (telegram_id, first_name) VALUES (1001, 'ሄኖክ'), (1002, 'Sara')`);
      await c.query(`INSERT INTO trips (origin, destination, departure_at, vehicle_plate, total_seats, price_etb)
                     VALUES ('Addis Ababa', 'Bahir Dar', now() + interval '2 days', 'AA-3-12345', 50, 850),
                            ('Gondar', 'Hawassa', now() - interval '2 days', 'AA-3-54321', 50, 1200)`);
      await c.query(`INSERT INTO receipts (telegram_user_id, trip_id, amount_etb, payment_method, payment_reference)
                     SELECT u.id, t.id, 850, 'telebirr', 'REF' || u.id FROM telegram_users u CROSS JOIN (SELECT min(id) AS id FROM trips) t`);
      // 1,234 tickets so the number needs a group separator.
      await c.query(`INSERT INTO tickets (receipt_id, trip_id, telegram_user_id, seat_number, passenger_name, ticket_code)
                     SELECT r.id, r.trip_id, r.telegram_user_id, g, 'P' || g, 'TH-' || lpad(g::text, 8, '0')
                       FROM (SELECT * FROM receipts ORDER BY id LIMIT 1) r, generate_series(1, 1234) g`);
    });
    const root = await signedIn('root@tickethub.et');
    const html = await (await get('/admin', root)).text();
    const stat = (label: string) => new RegExp(`data-stat="${label}"[\\s\\S]*?<p[^>]*tabular-nums[^>]*>([^<]+)</p>`).exec(html)?.[1];
    expect(stat('Tickets')).toBe('1,234');
    expect(stat('Receipts pending review')).toBe('2');
    expect(stat('Trips')).toBe('2');
    expect(stat('Upcoming trips')).toBe('1');
    expect(stat('Customers')).toBe('2');
  });
});

describe('/admin/activity', () => {
  it('lists the sign-in newest first, filters by action and paginates', async () => {
    const root = await signedIn('root@tickethub.et');
    // 60 older entries of another action, to page through.
    await withClient(db.url, async (c) => {
      for (let i = 0; i < 60; i++) {
        await logActivity(c, { action: 'TEST_EVENT', entityType: 'system', description: `test event ${i}` });
      }
      await c.query(`UPDATE activity_logs SET created_at = now() - interval '1 day' WHERE action = 'TEST_EVENT'`);
    });
    const first = await (await get('/admin/activity', root)).text();
    const firstAction = /data-action="([A-Z_]+)"/.exec(first)?.[1];
    expect(firstAction).toMatch(/^ADMIN_SIGN_IN/); // newest first: the sign-ins beat the day-old events
    expect(first).toContain('<option value="ADMIN_SIGN_IN">');
    expect(first).toContain('<option value="TEST_EVENT">');
    // Its own <title>, and a skip link to the main content (issue 12).
    expect(first).toContain('<title>Activity · TicketHub admin</title>');
    expect(first).toMatch(/<a href="#main-content"[^>]*>Skip to main content<\/a>/);
    expect(first).toContain('id="main-content"');

    const filtered = await (await get('/admin/activity?action=ADMIN_SIGN_IN_FAILED', root)).text();
    const actions = [...filtered.matchAll(/data-action="([A-Z_]+)"/g)].map((m) => m[1]);
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(['ADMIN_SIGN_IN_FAILED']));

    const p1 = await (await get('/admin/activity?action=TEST_EVENT', root)).text();
    const p3 = await (await get('/admin/activity?action=TEST_EVENT&page=3', root)).text();
    expect(p1).toContain('Page 1 of 3');
    expect([...p1.matchAll(/data-action=/g)]).toHaveLength(25);
    expect(p3).toContain('Page 3 of 3');
    expect([...p3.matchAll(/data-action=/g)]).toHaveLength(10);
    expect(p3).toContain('href="/admin/activity?action=TEST_EVENT&amp;page=2"');
  });

  it('shows dates through Intl in the active locale', async () => {
    const root = await signedIn('root@tickethub.et');
    const am = await (await get('/admin/activity', `${root}; NEXT_LOCALE=am`)).text();
    const month = new Intl.DateTimeFormat('am-ET', { month: 'short', timeZone: 'Africa/Addis_Ababa' }).format(new Date());
    expect(am).toContain(month);
    expect(am).toContain('እንቅስቃሴ');
  });
});

describe('with the database down', () => {
  it('sign-in answers 503 JSON without leaking the connection details, and pages show the error page', async () => {
    const down = await startAppServer({ databaseUrl: 'postgres://postgres:secretpw@127.0.0.1:1/nowhere' });
    try {
      const res = await fetch(`${down.baseUrl}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'root@tickethub.et', password: PASSWORD }),
      });
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(JSON.parse(body).error.code).toBe('db_unreachable');
      expect(body).not.toMatch(/127\.0\.0\.1|secretpw|ECONNREFUSED/);
      expect(down.output()).not.toContain('secretpw');
      const page = await fetch(`${down.baseUrl}/admin`, { headers: { cookie: 'tickethub_session=Fe26.2*x' } });
      // (Next streams pages, so the status may already be 200 when the error boundary takes over.)
      const html = await page.text();
      expect(html).toContain('Something went wrong');
      expect(html).not.toContain('secretpw');
    } finally {
      await down.stop();
    }
  });
});

describe('without SESSION_SECRET in production', () => {
  it('refuses to sign in (500 JSON naming the variable) and admin pages stay closed', async () => {
    const bare = await startAppServer({ databaseUrl: db.url, env: { SESSION_SECRET: undefined } });
    try {
      const res = await fetch(`${bare.baseUrl}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'root@tickethub.et', password: PASSWORD }),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: { code: 'config', message: 'SESSION_SECRET is not set' } });
      expect((await fetch(`${bare.baseUrl}/api/admin/me`, { headers: { cookie: 'tickethub_session=x' } })).status).toBe(500);
      const page = await fetch(`${bare.baseUrl}/admin`, { redirect: 'manual', headers: { cookie: 'tickethub_session=x' } });
      expect(page.status).toBe(500);
    } finally {
      await bare.stop();
    }
  });
});
