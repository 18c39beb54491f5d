import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { startAppServer } from '../helpers/app-server';
import { launchChromiumContext } from '../helpers/browser';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const EMAIL = 'ui@tickethub.et';
const PASSWORD = 'browser test password';
// Screenshots for review land in test-results/ (git-ignored), as the dashboard test's do, not in the temp directory.
const SHOTS = process.env.SCREENSHOT_DIR ?? path.resolve(import.meta.dirname, '../../test-results');

let db: TestDatabase;
let app: AppServer;
let profile: string;
let context: BrowserContext;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, (c) => upsertAdmin(c, { email: EMAIL, password: PASSWORD, fullName: 'ሰላም ተስፋዬ', role: 'admin' }));
  app = await startAppServer({ databaseUrl: db.url });
  base = `http://localhost:${app.port}`;
  profile = await mkdtemp(path.join(os.tmpdir(), 'tickethub-chromium-'));
  context = await launchChromiumContext(profile);
}, 600_000);

afterAll(async () => {
  await context?.close();
  await app?.stop();
  await db?.drop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('admin UI in Chromium', () => {
  it('signs in through the form, reaches Backups from the sidebar and switches to Amharic', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/admin/backups`);
    await page.waitForURL((u) => u.pathname === '/admin/login' && u.searchParams.get('next') === '/admin/backups');

    // A wrong password shows the generic error and stays on the page.
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // (Scoped to the form: Next's route announcer is also a role=alert element.)
    const alert = page.locator('form [role="alert"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Invalid email or password');

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back to the page that was asked for, then around through the sidebar.
    await page.waitForURL((u) => u.pathname === '/admin/backups');
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.waitForURL((u) => u.pathname === '/admin');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Backups' }).click();
    await page.waitForURL('**/admin/backups');
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'tickethub-backups-en.png'), fullPage: true });

    await page.getByRole('button', { name: 'አማርኛ' }).first().click();
    await page.getByRole('heading', { name: 'ምትኬዎች', level: 1 }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('am');
    expect(await page.getByRole('navigation').first().textContent()).toContain('እንቅስቃሴ');
    // The Ethiopic web font from the package is what renders it (not a system fallback).
    const fontOk = await page.evaluate(async () => {
      await document.fonts.ready;
      return document.fonts.check('16px "Noto Sans Ethiopic Variable"', 'ምትኬዎች');
    });
    expect(fontOk).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'tickethub-backups-am.png'), fullPage: true });

    // Back to English for the next test.
    await page.getByRole('button', { name: 'English' }).first().click();
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    await page.close();
  });

  it('is usable at 375 px: the menu opens the navigation and Activity shows the sign-in', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(`${base}/admin`);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'tickethub-dashboard-375.png'), fullPage: true });
    // The desktop sidebar is hidden; nothing overflows horizontally.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.getByRole('button', { name: 'Open menu' }).click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('link', { name: 'Activity' }).click();
    await page.waitForURL('**/admin/activity');
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    await expect(page.getByRole('dialog').count()).resolves.toBe(0); // navigating closed the drawer
    // On a phone the entries are cards whose description is visible without scrolling sideways.
    const card = page.locator('[data-card-action="ADMIN_SIGN_IN"]').first();
    expect(await card.isVisible()).toBe(true);
    expect(await card.textContent()).toContain('ሰላም ተስፋዬ signed in');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.screenshot({ path: path.join(SHOTS, 'tickethub-activity-375.png'), fullPage: true });
    await page.getByRole('button', { name: 'Open menu' }).click();
    await page.screenshot({ path: path.join(SHOTS, 'tickethub-menu-375.png') });

    // Sign out from the drawer ends the session.
    await page.getByRole('dialog').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/admin/login');
    await page.goto(`${base}/admin/activity`);
    await page.waitForURL((u) => u.pathname === '/admin/login');
    await page.screenshot({ path: path.join(SHOTS, 'tickethub-login-375.png') });
    await page.close();
  });
});
