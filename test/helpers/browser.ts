import { existsSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, LaunchOptions } from 'playwright-core';
import { tempDirSync } from './temp-dirs';

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
  return packagedChromium();
}

/**
 * @sparticuz/chromium unpacks itself into the temp directory and answers with the binary's path as
 * soon as the file exists, so a second test file launching while the first one unpacks got a
 * half-written binary ("spawn ETXTBSY"). One test process at a time unpacks, under a lock directory.
 */
async function packagedChromium(): Promise<string> {
  const lock = path.join(os.tmpdir(), 'tickethub-chromium-unpack.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() > deadline) throw new Error(`${lock} has been held for 3 minutes: remove it if no test is unpacking Chromium`, { cause: e });
      await sleep(100);
    }
  }
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    return await packaged.executablePath();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * The browser's own environment: TMPDIR is a directory of this test file's, removed when the file
 * ends (test/helpers/temp-dirs.ts). Chromium makes `.org.chromium.Chromium.*` directories in the
 * temp directory and leaves them behind when one of its processes is slow to exit at close; CI
 * fails on anything left in TMPDIR (scripts/check-test-tmp.sh).
 */
function browserEnv(): Record<string, string | undefined> {
  return { ...process.env, TMPDIR: tempDirSync('tickethub-chromium-tmp-') };
}

export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  const executablePath = await chromiumExecutable();
  return chromium.launch({ executablePath, headless: true, env: browserEnv(), ...opts, args: [...ARGS, ...(opts.args ?? [])] });
}

/** A persistent-profile context (as a real user's browser keeps its cookies between pages). */
export async function launchChromiumContext(profileDir: string, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  const executablePath = await chromiumExecutable();
  return chromium.launchPersistentContext(profileDir, { executablePath, headless: true, env: browserEnv(), args: ARGS, viewport });
}
