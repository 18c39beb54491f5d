import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// Login CSRF: an HTML form on another site can POST `enctype="text/plain"` (or urlencoded) bodies
// that happen to be valid JSON without a CORS preflight. If the route parses them, a victim's
// browser is silently signed in to the ATTACKER's account (SameSite=Lax still stores a cookie set
// by a cross-site top-level POST), and whatever the victim then does is done as the attacker.
// A browser can only send `application/json` cross-site after a preflight this app never grants.

const PASSWORD = 'attacker-owned-password';
let db: TestDatabase;
let app: AppServer;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, (c) => upsertAdmin(c, { email: 'attacker@tickethub.et', password: PASSWORD, role: 'admin' }));
  app = await startAppServer({ databaseUrl: db.url });
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const body = JSON.stringify({ email: 'attacker@tickethub.et', password: PASSWORD });
const post = (contentType: string | null, payload = body) =>
  fetch(`${app.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { ...(contentType ? { 'content-type': contentType } : {}), 'x-forwarded-for': '10.9.9.9' },
    body: payload,
  });

describe('POST /api/auth/login only accepts application/json', () => {
  it.each([
    ['text/plain (form enctype="text/plain")', 'text/plain'],
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['multipart/form-data', 'multipart/form-data; boundary=x'],
  ])('a %s body with valid credentials gets 415 and no session cookie', async (_label, ct) => {
    const res = await post(ct);
    expect(res.status).toBe(415);
    expect((await res.json()).error.code).toBe('unsupported_media_type');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('tickethub_session='))).toBe(false);
  });

  it('still signs in with application/json (charset parameter allowed)', async () => {
    const res = await post('application/json; charset=utf-8');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('tickethub_session='))).toBe(true);
  });

  it('a rejected content type is not counted as a failed attempt', async () => {
    const n = await withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM login_attempts WHERE NOT success`)).rows[0].n);
    expect(n).toBe(0);
  });
});
