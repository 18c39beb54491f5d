import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { encryptedArchiveKey } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import { formatBytes } from '../../lib/i18n/format-units';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { launchChromium } from '../helpers/browser';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// Issue 12, "a first hour without surprises": the activity log in Amharic (translated action
// labels while the stored code stays, Ethiopian dates with the Gregorian beside, numbers per
// locale), the dashboard's encryption state and stored (encrypted) sizes, and the phone menu's
// keyboard behaviour (focus trap, Escape).

const EMAIL = 'activity@tickethub.et';
const PASSWORD = 'activity browser test';
const en = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/en.json'), 'utf8'));
const am = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/am.json'), 'utf8'));

// A name Chromium resolves to the test server but does not treat as a secure context (unlike
// localhost/127.0.0.1, where a Secure cookie over plain http would be kept): what signing in over
// `http://<LAN address>` is, on any machine, with or without a LAN interface.
const LAN_HOST = 'tickethub-lan.test';

// 2026-12-02 02:20 UTC: 05:20 in Addis Ababa, 23 Hidar 2019 in the Ethiopian calendar.
const AT = '2026-12-02T02:20:00Z';

let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let browser: Browser;
let context: BrowserContext;
let base: string;
let backupId: string;
let storedSize: number;

async function setLocale(locale: 'en' | 'am'): Promise<void> {
  await context.addCookies([{ name: 'NEXT_LOCALE', value: locale, url: base }]);
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${base}/admin/login`);
  // Plain http on a non-loopback name: the session cookie must not be Secure here, or the browser
  // drops it and signing in hangs (issue 12).
  expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/admin', { timeout: 30_000 });
  await page.getByRole('heading', { level: 1 }).waitFor();
  const session = (await context.cookies(base)).find((c) => c.name === 'tickethub_session');
  expect(session).toMatchObject({ secure: false, httpOnly: true });
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  storageDir = await mkdtemp(path.join(os.tmpdir(), 'th-activity-'));
  const { recipient } = await generateKeyPair();
  await withClient(db.url, async (c) => {
    await upsertAdmin(c, { email: EMAIL, password: PASSWORD, fullName: 'ሰላም ተስፋዬ', role: 'super_admin' });
    await c.query(
      `INSERT INTO public.activity_logs (action, entity_type, entity_id, description, metadata, created_at)
       VALUES ('RECEIPT_APPROVED', 'receipt', '42', 'Receipt #42 approved: 12500 ETB via telebirr', '{"amount_etb": 12500, "payment_method": "telebirr"}', $1),
              ('SOMETHING_NEWER', 'system', NULL, 'An action this version does not know', '{}', $1::timestamptz - interval '1 day')`,
      [AT],
    );
  });
  const storage = openStorage(storageDir);
  const r = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', encryptionRecipients: [recipient] });
  await storage.close();
  backupId = r.id;
  storedSize = readFileSync(path.join(storageDir, encryptedArchiveKey(backupId))).length;
  app = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, BACKUP_ENCRYPTION_RECIPIENTS: recipient, APP_TIME_ZONE: 'Africa/Addis_Ababa' } });
  base = `http://${LAN_HOST}:${app.port}`;
  browser = await launchChromium({ args: [`--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`] });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 900_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await app?.stop();
  await db?.drop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

describe('activity log, encryption card and phone menu in Chromium', () => {
  it('signs in over plain http on a non-loopback origin (not a secure context) and reaches the dashboard', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.close();
  });

  it('every page has its own <title> in the active language', async () => {
    for (const [locale, m] of [['am', am], ['en', en]] as const) {
      await setLocale(locale);
      const page = await context.newPage();
      for (const [url, title] of [['/admin', m.dashboard.title], ['/admin/backups', m.backups.title], ['/admin/activity', m.activity.title]]) {
        await page.goto(`${base}${url}`);
        expect(await page.title(), `${locale} ${url}`).toBe(`${title} · ${m.common.pageTitle}`);
      }
      await page.close();
      // The sign-in page, from a context without the session.
      const anon = await browser.newContext();
      await anon.addCookies([{ name: 'NEXT_LOCALE', value: locale, url: base }]);
      const login = await anon.newPage();
      await login.goto(`${base}/admin/login`);
      expect(await login.title()).toBe(`${m.login.submit} · ${m.common.pageTitle}`);
      await anon.close();
    }
  });

  it('activity in English: English labels, Gregorian date; the filter lists labels and filters by the stored code', async () => {
    await setLocale('en');
    const page = await context.newPage();
    await page.goto(`${base}/admin/activity`);
    await page.getByRole('heading', { name: en.activity.title, level: 1 }).waitFor();
    const row = 'tr[data-action="RECEIPT_APPROVED"]';
    expect(await text(page, `${row} [data-action-code]`)).toBe(en.activity.actions.RECEIPT_APPROVED);
    expect(await page.locator(`${row} [data-action-code]`).getAttribute('data-action-code')).toBe('RECEIPT_APPROVED');
    expect((await text(page, `${row} time`)).replace(/\s/g, ' ')).toBe('Dec 2, 2026, 5:20 AM');
    expect(await text(page, row)).toContain('Receipt #42 approved: 12500 ETB via telebirr'); // English: as recorded
    // An action this version has no label for is shown as its code.
    expect(await text(page, 'tr[data-action="SOMETHING_NEWER"] [data-action-code]')).toBe('SOMETHING_NEWER');
    const filter = page.getByLabel(en.activity.filterLabel);
    expect(await filter.locator('option[value="RECEIPT_APPROVED"]').textContent()).toBe(en.activity.actions.RECEIPT_APPROVED);
    await filter.selectOption({ label: en.activity.actions.RECEIPT_APPROVED });
    await page.getByRole('button', { name: en.activity.apply }).click();
    await page.waitForURL((u) => u.searchParams.get('action') === 'RECEIPT_APPROVED');
    expect(await page.locator('tr[data-action]').count()).toBe(1);
    await page.close();
  });

  it('activity in Amharic: translated labels and description with formatted numbers, Ethiopian date with the Gregorian beside; stored code unchanged', async () => {
    await setLocale('am');
    const page = await context.newPage();
    await page.goto(`${base}/admin/activity`);
    await page.getByRole('heading', { name: am.activity.title, level: 1 }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('am');
    const row = 'tr[data-action="RECEIPT_APPROVED"]';
    expect(await text(page, `${row} [data-action-code]`)).toBe(am.activity.actions.RECEIPT_APPROVED);
    expect(await page.locator(`${row} [data-action-code]`).getAttribute('data-action-code')).toBe('RECEIPT_APPROVED');
    expect(await text(page, `${row} time`)).toMatch(/^23 ኅዳር 2019 ዓ\.ም\. 5:20 .+ \(2 ዲሴም 2026\)$/);
    expect(await text(page, row)).toContain('ደረሰኝ #42 ጸድቋል፦ 12,500 ብር በtelebirr');
    const filter = page.getByLabel(am.activity.filterLabel);
    expect(await filter.locator('option[value="RECEIPT_APPROVED"]').textContent()).toBe(am.activity.actions.RECEIPT_APPROVED);
    expect(await filter.locator('option[value=""]').textContent()).toBe(am.activity.allActions);
    await filter.selectOption({ label: am.activity.actions.RECEIPT_APPROVED });
    await page.getByRole('button', { name: am.activity.apply }).click();
    await page.waitForURL((u) => u.searchParams.get('action') === 'RECEIPT_APPROVED');
    expect(await page.locator('tr[data-action]').count()).toBe(1);
    // The stored code is untouched by the translation.
    const codes = await withClient(db.url, async (c) => (await c.query(`SELECT action FROM public.activity_logs WHERE entity_id = '42'`)).rows.map((r) => r.action));
    expect(codes).toEqual(['RECEIPT_APPROVED']);
    await page.close();
  });

  it('the backups info card says encryption is on, in both languages; the history shows the stored (encrypted) size', async () => {
    for (const [locale, m] of [['en', en], ['am', am]] as const) {
      await setLocale(locale);
      const page = await context.newPage();
      await page.goto(`${base}/admin/backups`);
      await page.getByRole('heading', { name: m.backups.title, level: 1 }).waitFor();
      const card = page.locator('[data-info="encryption"]');
      expect(await card.getAttribute('data-encrypted')).toBe('true');
      const shown = ((await card.textContent()) ?? '').replace(/\s+/g, ' ').trim();
      expect(shown).toBe(locale === 'en' ? 'On (age): new backups are encrypted for 1 recipient; sizes are of the encrypted files' : 'በርቷል (age)፦ አዲስ ምትኬዎች ለ1 ተቀባይ ይመሰጠራሉ፤ መጠኖቹ የተመሰጠሩት ፋይሎች ናቸው');
      expect(await text(page, `[data-backup-id="${backupId}"] td[data-label="${m.backups.history.size}"]`)).toBe(formatBytes(storedSize, locale).replace(/\s+/g, ' '));
      const stats = await page.evaluate(async () => (await fetch('/api/admin/backups/stats')).json()); // from the page: its origin and cookie
      expect(stats).toMatchObject({ encrypted: true, encryptionRecipients: 1 });
      await page.close();
    }
    await setLocale('en');
  });

  it('phone (375×812): the menu keeps Tab inside while open, Escape closes it and focus returns to the menu button', async () => {
    await setLocale('en');
    const page = await context.newPage();
    await page.setViewportSize({ width: 375, height: 812 });
    await page.goto(`${base}/admin/activity`);
    await page.getByRole('heading', { name: en.activity.title, level: 1 }).waitFor();
    const menuButton = page.getByRole('button', { name: en.nav.openMenu });
    await menuButton.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const inDialog = () => page.evaluate(() => Boolean(document.activeElement && document.getElementById('mobile-nav')?.contains(document.activeElement)));
    // Which of the menu's focusable elements has focus (-1: none of them).
    const focusedName = () => page.evaluate(() => Array.from(document.querySelectorAll('#mobile-nav a[href], #mobile-nav button:not([disabled]), #mobile-nav select, #mobile-nav input')).indexOf(document.activeElement as Element));
    expect(await inDialog()).toBe(true); // opening moves focus into the menu
    const count = await dialog.locator('a[href], button:not([disabled]), select, input').count();
    expect(count).toBeGreaterThan(3);
    const first = await focusedName();
    const seen = new Set<number>();
    for (let i = 0; i < count; i++) {
      await page.keyboard.press('Tab');
      expect(await inDialog(), `Tab ${i + 1} of ${count}`).toBe(true);
      seen.add(await focusedName());
    }
    expect(await focusedName()).toBe(first); // wrapped around, never left the menu
    expect(seen.size).toBe(count);
    await page.keyboard.press('Shift+Tab');
    expect(await inDialog()).toBe(true);
    expect(await focusedName()).not.toBe(first); // Shift+Tab from the first goes to the last
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(en.nav.openMenu);
    expect(await menuButton.getAttribute('aria-expanded')).toBe('false');
    await page.close();
  });
});
