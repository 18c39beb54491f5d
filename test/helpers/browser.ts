import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, LaunchOptions } from 'playwright-core';

const SYSTEM_CHROMIUMS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * The Chromium the browser tests drive: `CHROMIUM_PATH` when set, else a system Chromium when one
 * is installed, else the binary shipped inside the npm package `@sparticuz/chromium` (unpacked to
 * the temp directory on first use), so `npm install && npm test` needs no apt-get.
 */
export async function chromiumExecutable(): Promise<string> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const system = SYSTEM_CHROMIUMS.find((p) => existsSync(p));
  if (system) return system;
  const { default: packaged } = await import('@sparticuz/chromium');
  return packaged.executablePath();
}

export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumExecutable(), headless: true, ...opts, args: [...ARGS, ...(opts.args ?? [])] });
}

/** A persistent-profile context (as a real user's browser keeps its cookies between pages). */
export async function launchChromiumContext(profileDir: string, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, { executablePath: await chromiumExecutable(), headless: true, args: ARGS, viewport });
}
