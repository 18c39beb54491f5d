import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// A classic audit-trail leak: an admin types the PASSWORD into the email box (autofill, tab slip).
// The failed sign-in used to be written to activity_logs verbatim ("Failed sign-in for <password>"),
// where every signed-in role, staff included, reads it on /admin/activity.

const PASSWORD = 'Zebra-Quartz-1977';
let db: TestDatabase;
let app: AppServer;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, (c) => upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD, role: 'super_admin' }));
  app = await startAppServer({ databaseUrl: db.url });
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const login = (email: string, password: string) =>
  fetch(`${app.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.7.7.7' },
    body: JSON.stringify({ email, password }),
  });

describe('a password typed into the email field', () => {
  it('is answered 401 and never lands in activity_logs, while the failure is still audited and throttled', async () => {
    for (let i = 0; i < 5; i++) expect((await login(PASSWORD, PASSWORD)).status).toBe(401);
    expect((await login(PASSWORD, PASSWORD)).status).toBe(429);
    const rows = await withClient(db.url, async (c) =>
      (await c.query(`SELECT description, metadata::text AS metadata FROM activity_logs WHERE action = 'ADMIN_SIGN_IN_FAILED'`)).rows,
    );
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect(r.description).not.toContain(PASSWORD);
      expect(r.metadata).not.toContain(PASSWORD);
    }
  });

  it('a real (unknown) email address is still named in the audit trail', async () => {
    expect((await login('nobody@tickethub.et', 'whatever-pass')).status).toBe(401);
    const rows = await withClient(db.url, async (c) =>
      (await c.query(`SELECT description FROM activity_logs WHERE metadata->>'email' = 'nobody@tickethub.et'`)).rows,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].description).toContain('nobody@tickethub.et');
  });
});
