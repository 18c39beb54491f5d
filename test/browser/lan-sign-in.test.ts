import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { launchChromium } from '../helpers/browser';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// Issue 12, signing in over the LAN: `http://<LAN address>` is not a secure context, so a Secure
// session cookie is dropped by the browser. By default the cookie is not Secure there and the
// asked-for page opens after sign-in; when SESSION_COOKIE_SECURE=true forces Secure anyway, the
// form says why (in the chosen language) instead of staying on "Signing in…" forever.

const EMAIL = 'lan@tickethub.et';
const PASSWORD = 'lan browser test';
const LAN_HOST = 'tickethub-lan.test'; // resolved to 127.0.0.1 by Chromium, not a secure context
const en = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/en.json'), 'utf8'));
const am = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/am.json'), 'utf8'));

let db: TestDatabase;
let perRequest: AppServer;
let forcedSecure: AppServer;
let browser: Browser;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, (c) => upsertAdmin(c, { email: EMAIL, password: PASSWORD, role: 'super_admin' }));
  perRequest = await startAppServer({ databaseUrl: db.url });
  forcedSecure = await startAppServer({ databaseUrl: db.url, env: { SESSION_COOKIE_SECURE: 'true' } });
  browser = await launchChromium({ args: [`--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`] });
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await perRequest?.stop();
  await forcedSecure?.stop();
  await db?.drop();
});

describe('sign-in over plain http on a LAN name', () => {
  it('/admin/backups → login → back on /admin/backups, with a session cookie the browser keeps (not Secure)', async () => {
    const base = `http://${LAN_HOST}:${perRequest.port}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/admin/backups`);
    await page.waitForURL((u) => u.pathname === '/admin/login' && u.searchParams.get('next') === '/admin/backups');
    expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    await page.getByLabel(en.login.email).fill(EMAIL);
    await page.getByLabel(en.login.password).fill(PASSWORD);
    await page.getByRole('button', { name: en.login.submit }).click();
    await page.waitForURL((u) => u.pathname === '/admin/backups', { timeout: 30_000 });
    await page.getByRole('heading', { level: 1, name: en.backups.title }).waitFor();
    expect((await context.cookies(base)).find((c) => c.name === 'tickethub_session')).toMatchObject({ secure: false, httpOnly: true });
    await context.close();
  });

  it('SESSION_COOKIE_SECURE=true over plain http: the form says why (in Amharic too), it does not hang on "Signing in…"', async () => {
    const base = `http://${LAN_HOST}:${forcedSecure.port}`;
    for (const [locale, m] of [['en', en], ['am', am]] as const) {
      const context = await browser.newContext();
      await context.addCookies([{ name: 'NEXT_LOCALE', value: locale, url: base }]);
      const page = await context.newPage();
      await page.goto(`${base}/admin/login`);
      await page.getByLabel(m.login.email).fill(EMAIL);
      await page.getByLabel(m.login.password).fill(PASSWORD);
      await page.getByRole('button', { name: m.login.submit }).click();
      const alert = page.locator('form [role=alert]'); // (Next's route announcer is a role=alert too)
      await alert.waitFor({ timeout: 30_000 });
      expect((await alert.textContent())?.trim(), locale).toBe(m.login.cookieRejected);
      // The button is usable again (not stuck on "Signing in…") and we are still on the login page.
      expect(await page.getByRole('button', { name: m.login.submit }).isEnabled()).toBe(true);
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      expect((await context.cookies(base)).find((c) => c.name === 'tickethub_session')).toBeUndefined();
      await context.close();
    }
  });
});
