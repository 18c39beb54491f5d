import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { launchChromium } from '../helpers/browser';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// Feedback the dashboard owes its users when the thing it talks about changes under it.
// A deleted backup's row disappears with the refresh: its "deleted" message and the focus went with it.
// "Manual Backup Now" follows its backup through an EventSource. When that stream fails for good
// (here: its first connection is reset — the one fault injected, in the browser's network layer —
// and when EventSource reconnects the admin's session is gone, so the real server answers 401),
// the button stayed disabled with its spinner and nothing said why until a reload.
const EMAIL = 'stream@tickethub.et';
const PASSWORD = 'stream lost browser test';
const en = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/en.json'), 'utf8'));

let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let browser: Browser;
let context: BrowserContext;
let base: string;
let doomed: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-stream-lost-'));
  await withClient(db.url, async (c) => {
    await seedDemoData(c, { scale: 20 });
    await upsertAdmin(c, { email: EMAIL, password: PASSWORD, fullName: 'Stream Test', role: 'super_admin' });
  });
  const storage = openStorage(storageDir);
  doomed = (await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', description: 'to delete' })).id;
  await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', description: 'kept' }); // retention keeps the newest one
  await storage.close();
  app = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, VERCEL: '1', BACKUP_RETENTION_MIN: '1' } });
  base = `http://127.0.0.1:${app.port}`;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 900_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await app?.stop();
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${base}/admin/backups`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  if (new URL(page.url()).pathname !== '/admin/login') return; // still signed in
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/admin/backups', { timeout: 30_000 });
}

/** Waits until no backup runs on the test database (the engine's session advisory lock, backup-runs.ts, is free). */
async function noBackupRunning(): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const busy = await withClient(db.url, async (c) =>
      (await c.query(`SELECT count(*)::int AS n FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND classid = 7263 AND objid = 3 AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`)).rows[0].n,
    );
    if (!busy) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('a backup was still running after 60 s');
}

/** Starts a backup that waits on a lock, with its stream's first connection reset; `broken` runs before EventSource reconnects. */
async function startWithResetStream(page: Page, broken: (id: string) => Promise<void>): Promise<{ id: string; release: () => Promise<void> }> {
  // The previous test's backup goes on after its lock is released: start only once it is over.
  await noBackupRunning();
  const blocker = new pg.Client({ connectionString: db.url });
  blocker.on('error', () => {});
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE public.trips IN ACCESS EXCLUSIVE MODE');
  const release = async () => {
    await blocker.query('COMMIT').catch(() => {});
    await blocker.end().catch(() => {});
    await noBackupRunning();
  };
  try {
    let reset = false;
    await page.route('**/api/admin/backups/*/events', (route) => {
      if (reset) return route.continue();
      reset = true;
      return route.abort('connectionreset');
    });
    await page.getByRole('button', { name: en.backups.manual.start }).click();
    await page.getByTestId('backup-progress').waitFor();
    expect(await page.getByTestId('manual-backup').isDisabled()).toBe(true);
    const id = (await page.getByTestId('backup-progress').textContent())!.match(/\d{8}T\d{6}Z-[a-z0-9]+/)![0];
    // EventSource waits seconds before it reconnects after a reset: time enough to break what it will find.
    await broken(id);
    return { id, release };
  } catch (err) {
    await release();
    throw err;
  }
}

describe('deleting a backup from the history', () => {
  it('says so in a live region that outlives the row, and focus goes there, not to the page body', async () => {
    const page = await context.newPage();
    await signIn(page);
    const row = page.locator(`[data-backup-id="${doomed}"]`);
    await row.getByRole('button', { name: en.backups.actions.delete }).click();
    await page.getByRole('dialog').getByRole('button', { name: en.backups.actions.deleteConfirm }).click();
    const said = page.getByTestId('history-announcement');
    await page.waitForFunction((id) => document.querySelector('[data-testid="history-announcement"]')?.textContent?.includes(id), doomed, { timeout: 15_000 });
    expect(await said.textContent()).toBe(en.backups.actions.deleted.replace('{id}', doomed));
    expect(await said.getAttribute('role')).toBe('status');
    // The row's actions are gone (deleted rows have none) and focus did not fall to <body>.
    await page.waitForFunction((id) => !document.querySelector(`[data-backup-id="${id}"] button`), doomed, { timeout: 15_000 });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('history-announcement');
    await page.close();
  }, 120_000);
});

describe('Manual Backup Now when its progress stream fails for good', () => {
  it('the run is gone when the stream reconnects (404): says it lost track of the backup and enables the button again', async () => {
    const page = await context.newPage();
    await signIn(page);
    const run = await startWithResetStream(page, (id) => withClient(db.url, (c) => c.query('DELETE FROM public.backup_runs WHERE id = $1', [id])).then(() => undefined));
    try {
      const result = page.getByTestId('backup-result');
      await result.waitFor({ timeout: 30_000 });
      expect(await result.textContent()).toContain(`Lost track of backup ${run.id}`);
      await page.waitForFunction(() => !(document.querySelector('[data-testid="manual-backup"]') as HTMLButtonElement | null)?.disabled, undefined, { timeout: 10_000 });
    } finally {
      await run.release();
      await page.close();
    }
  }, 120_000);

  it('the session expired when the stream reconnects (401): the page goes to sign-in instead of spinning forever', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/admin/backups`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const run = await startWithResetStream(page, () => context.clearCookies());
    try {
      await page.waitForURL((u) => u.pathname === '/admin/login' && u.searchParams.get('next') === '/admin/backups', { timeout: 30_000 });
    } finally {
      await run.release();
      await page.close();
    }
  }, 120_000);
});
