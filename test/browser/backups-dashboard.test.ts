import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { runBackup } from '../../lib/backup/run-backup';
import { nextRun, scheduleFromEnv } from '../../lib/backup/schedule';
import { formatDateTime } from '../../lib/i18n/format-date-time';
import { formatBytes } from '../../lib/i18n/format-units';
import { EXPORTABLE_TABLES } from '../../lib/queries/table-export';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { launchChromium } from '../helpers/browser';
import { compareTable, dbRows, parseCsv } from '../helpers/csv-oracle';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { readZip } from '../helpers/zip';

const EMAIL = 'boss@tickethub.et';
const PASSWORD = 'dashboard browser test';
const SHOTS = path.resolve(import.meta.dirname, '../../test-results');
const en = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/en.json'), 'utf8'));
const am = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/am.json'), 'utf8'));

let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let browser: Browser;
let context: BrowserContext;
let base: string;
let firstBackup: string;

/** A non-loopback IPv4 address of this machine (the "Network:" URL next start prints), if any. */
function lanAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `backups-${name}.png`), fullPage: true });

async function openDashboard(page: Page): Promise<void> {
  await page.goto(`${base}/admin/backups`);
  await page.getByRole('heading', { level: 1 }).waitFor();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  db = await createTestDatabase({ migrate: true });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-dashboard-'));
  await withClient(db.url, async (c) => {
    await seedDemoData(c, { scale: 150 });
    await upsertAdmin(c, { email: EMAIL, password: PASSWORD, fullName: 'ሰላም ተስፋዬ', role: 'super_admin' });
    let tg = 800000001;
    for (const s of ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", '-2+3', '@SUM(1)', '+251911234567', '-250.50', 'ቤተልሔም "ቤቲ", ዘውዱ', 'two\nlines']) {
      await c.query(`INSERT INTO telegram_users (telegram_id, first_name, last_name, username) VALUES ($1, $2, '', NULL)`, [tg++, s]);
    }
    // A failed run with its one-line cause, as the history must show it.
    await c.query(`INSERT INTO backup_runs (id, trigger, status, started_at, finished_at, duration_ms, error) VALUES ('20250101T020000Z-fail0001', 'cron', 'failed', '2025-01-01 02:00Z', '2025-01-01 02:00:05Z', 5000, 'storage: disk full writing 20250101T020000Z-fail0001.sql.gz')`);
  });
  const storage = openStorage(storageDir);
  firstBackup = (await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', description: 'first ምትኬ' })).id;
  await storage.close();
  const lan = lanAddress();
  // A real schedule for the "Next run" card; VERCEL=1 keeps the in-process scheduler (and its
  // catch-up backup at start) out of this test, as on Vercel where Vercel Cron runs the job.
  app = await startAppServer({ databaseUrl: db.url, host: lan ? '0.0.0.0' : '127.0.0.1', env: { BACKUP_STORAGE_URL: storageDir, BACKUP_SCHEDULE: '0 2 * * *', BACKUP_TZ: 'UTC', VERCEL: '1' } });
  // Over the LAN address when there is one: plain http on a non-loopback host (not a secure context).
  base = `http://${lan ?? '127.0.0.1'}:${app.port}`;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
}, 900_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await app?.stop();
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

describe('the backups dashboard in Chromium', () => {
  it('signs in over plain http on the LAN address, returns to /admin/backups, and the cards show /api/admin/backups/stats', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/admin/backups`);
    await page.waitForURL((u) => u.pathname === '/admin/login' && u.searchParams.get('next') === '/admin/backups');
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/backups', { timeout: 30_000 });
    await page.getByRole('heading', { name: en.backups.title, level: 1 }).waitFor();
    const stats = await (await page.request.get(`${base}/api/admin/backups/stats`)).json();
    const stat = (k: string) => page.locator(`[data-stat="${k}"]`).textContent();
    expect(await stat('total')).toBe(String(stats.totalBackups));
    expect(await stat('successful')).toBe(String(stats.successfulBackups));
    expect(await stat('failed')).toBe(String(stats.failedBackups));
    expect(await stat('lastBackup')).toBe(formatDateTime(new Date(stats.lastBackupTime), 'en'));
    expect(await stat('averageSize')).toBe(formatBytes(stats.averageBackupSize, 'en'));
    expect(await stat('health')).toBe(en.backups.stats.healthStatus.failing); // the latest scheduled (cron) run failed
    expect(await stat('nextRun')).toBe(formatDateTime(nextRun(scheduleFromEnv({ BACKUP_SCHEDULE: '0 2 * * *', BACKUP_TZ: 'UTC' })!)!, 'en'));
    // The Configuration panel reads the schedule as a sentence (it showed the raw "0 2 * * * (UTC)").
    expect((await page.locator('[data-info="schedule"]').textContent())?.replace(/\s/g, ' ').trim()).toBe('Every day at 2:00 AM (UTC)');
    // History: each run one element with its id; the failed one shows its cause.
    expect(await page.locator(`[data-backup-id="${firstBackup}"]`).count()).toBe(1);
    expect(await page.locator('[data-backup-id="20250101T020000Z-fail0001"] [data-error]').textContent()).toContain('disk full');
    await shot(page, 'en');
    await page.close();
  });

  it('Manual Backup Now: the button is disabled while progress shows, then the new row appears', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    const before = await page.locator('[data-backup-id]').count();
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE public.trips IN ACCESS EXCLUSIVE MODE');
    try {
      await page.getByLabel(en.backups.manual.descriptionLabel).fill('from the browser ከአሳሹ');
      await page.getByRole('button', { name: en.backups.manual.start }).click();
      await page.getByTestId('backup-progress').waitFor();
      await expect(page.getByTestId('manual-backup').isDisabled()).resolves.toBe(true);
      expect(await page.getByTestId('backup-progress').textContent()).toContain(en.backups.manual.progressTitle);
      await shot(page, 'progress');
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    await page.getByTestId('backup-result').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('backup-result').textContent()).toMatch(/finished/);
    await page.waitForFunction((n) => document.querySelectorAll('[data-backup-id]').length === n + 1, before, { timeout: 30_000 });
    const newest = await page.locator('[data-backup-id]').first();
    expect(await newest.textContent()).toContain('from the browser ከአሳሹ');
    await expect(page.getByTestId('manual-backup').isEnabled()).resolves.toBe(true);
    await page.close();
  });

  it('download the archive from its row: gunzip -t passes and its SHA-256 equals the manifest', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    const row = page.locator(`[data-backup-id="${firstBackup}"]`);
    const [archive] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: en.backups.actions.download }).click()]);
    const [manifestDl] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: en.backups.actions.manifest }).click()]);
    const file = await archive.path();
    expect(archive.suggestedFilename()).toBe(`${firstBackup}.sql.gz`);
    const gz = spawnSync('gunzip', ['-t', file], { encoding: 'utf8' });
    expect(gz.status, gz.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(await manifestDl.path(), 'utf8'));
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(manifest.archive.sha256);
    await page.close();
  });

  it('export all from the form: the ZIP CSVs (parsed with csv-parse) equal the database row for row', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
    const files = await readZip(readFileSync(await dl.path()));
    for (const t of EXPORTABLE_TABLES) {
      const oracle = await dbRows(db.url, t);
      const csv = parseCsv(files.get(`${t}.csv`)!.toString('utf8'));
      if (t === 'activity_logs') oracle.rows.splice(csv.length - 1); // its own DATA_EXPORTED row comes after the snapshot
      compareTable(t, csv, oracle);
    }
    await page.close();
  });

  it('export from a backup after changing live rows gives the backup values', async () => {
    const before = await dbRows(db.url, 'telegram_users');
    await withClient(db.url, (c) => c.query(`UPDATE telegram_users SET first_name = 'changed after the backup' WHERE telegram_id = 800000001`));
    const page = await context.newPage();
    await openDashboard(page);
    await page.getByLabel(en.backups.export.table).selectOption('telegram_users');
    const source = page.getByLabel(en.backups.export.source);
    const option = await source.locator('option').evaluateAll((opts) => opts.map((o) => (o as HTMLOptionElement).value));
    // The newest succeeded backup is the browser's manual one, taken before this change.
    await source.selectOption(option[1]);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()]);
    const csv = parseCsv(readFileSync(await dl.path(), 'utf8'));
    compareTable('telegram_users', csv, before);
    expect(JSON.stringify(csv)).not.toContain('changed after the backup');
    await page.close();
  });

  it('restore command dialog: opens, keeps focus inside, closes on Escape', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    await page.locator(`[data-backup-id="${firstBackup}"]`).getByRole('button', { name: en.backups.actions.restore }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`npx tickethub-backup restore ${firstBackup}`);
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => !!document.activeElement?.closest('dialog'))).toBe(true);
    }
    await page.keyboard.press('Escape');
    await expect(dialog.isVisible()).resolves.toBe(false);
    await page.close();
  });

  it('keyboard only: Tab reaches Manual Backup Now and Enter starts a backup', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    let reached = false;
    for (let i = 0; i < 80 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'manual-backup');
    }
    expect(reached).toBe(true);
    // The focused button shows a visible focus ring.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.getByTestId('backup-result').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('backup-result').textContent()).toMatch(/finished/);
    await page.close();
  });

  it('375×812: no horizontal scroll, the history rows are cards', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 375, height: 812 });
    await openDashboard(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(await page.locator('[data-backup-id]').first().evaluate((el) => getComputedStyle(el).display)).toBe('block');
    await shot(page, 'en-375');
    await page.close();
  });

  it('axe: no serious or critical violations in English', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    const r = await new AxeBuilder({ page }).analyze();
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)).toEqual([]);
    await page.close();
  });

  it('Amharic: labels from am.json, the Ethiopic font renders, dates in the Ethiopian calendar with the Gregorian beside; axe clean', async () => {
    const page = await context.newPage();
    await openDashboard(page);
    await page.getByRole('button', { name: 'አማርኛ' }).first().click();
    await page.getByRole('heading', { name: am.backups.title, level: 1 }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('am');
    const body = await page.locator('main').textContent();
    for (const label of [am.backups.stats.total, am.backups.stats.health, am.backups.manual.start, am.backups.history.title, am.backups.export.title, am.backups.info.title]) expect(body).toContain(label);
    const fontOk = await page.evaluate(async () => {
      await document.fonts.ready;
      return document.fonts.check('16px "Noto Sans Ethiopic Variable"', 'ምትኬዎች');
    });
    expect(fontOk).toBe(true);
    const last = await page.locator('[data-stat="lastBackup"]').textContent();
    expect(last).toContain('ዓ.ም.');
    expect(last).toMatch(/\(.*20\d\d\)$/); // the Gregorian date beside it
    await shot(page, 'am');
    const r = await new AxeBuilder({ page }).analyze();
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`)).toEqual([]);
    await page.setViewportSize({ width: 375, height: 812 });
    await page.reload();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await shot(page, 'am-375');
    await page.close();
  });
});
