import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/db/embedded';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NEXT_BIN = path.join(ROOT, 'node_modules/next/dist/bin/next');
// Inputs of the web build: a file newer than .next/BUILD_ID means the build is stale.
const BUILD_INPUTS = ['app', 'components', 'lib', 'messages', 'proxy.ts', 'instrumentation.ts', 'vercel.json', 'next.config.ts', 'postcss.config.mjs', 'tsconfig.web.json', 'package-lock.json'];

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return /\.test\.tsx?$/.test(p) ? 0 : st.mtimeMs;
  let max = 0;
  for (const e of readdirSync(p)) max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

function buildIsFresh(): boolean {
  const id = path.join(ROOT, '.next/BUILD_ID');
  if (!existsSync(id)) return false;
  const built = statSync(id).mtimeMs;
  return BUILD_INPUTS.every((p) => newestMtime(path.join(ROOT, p)) <= built);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const LOCK_BASE = path.join(os.tmpdir(), `tickethub-next-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}`);
const LOCK = `${LOCK_BASE}.lock`;
// One file per running test server (named by pid and port): a rebuild would swap .next under it.
const READERS = `${LOCK_BASE}.readers`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function liveReaders(): string[] {
  if (!existsSync(READERS)) return [];
  return readdirSync(READERS).filter((f) => {
    const pid = Number(f.split('-')[0]);
    if (pidAlive(pid)) return true;
    rmSync(path.join(READERS, f), { force: true });
    return false;
  });
}

async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock older than 10 minutes belongs to a build that died.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 10 * 60_000) rmSync(LOCK, { recursive: true, force: true });
      } catch { /* raced with its owner */ }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another next build (lock ${LOCK})`);
      await sleep(300);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * Runs `next build` when .next/BUILD_ID is missing or older than any web source, then registers
 * `readerId` as using .next. Test files run in parallel workers in a work tree others edit, so:
 * exactly one worker builds (lock directory), and it waits until no other worker's server is
 * still running on the old build before replacing it. Returns the function that unregisters.
 */
export async function ensureAppBuilt(readerId: string): Promise<() => void> {
  return withBuildLock(async () => {
    // A server of this same process still runs on the current build: keep it (waiting would deadlock).
    const mine = liveReaders().some((r) => r.startsWith(`${process.pid}-`));
    if (!mine && !buildIsFresh()) {
      const deadline = Date.now() + 5 * 60_000;
      while (liveReaders().length > 0) {
        if (Date.now() > deadline) throw new Error('timed out waiting for other test servers to stop before rebuilding .next');
        await sleep(300);
      }
      const started = new Date();
      const r = spawnSync(process.execPath, [NEXT_BIN, 'build'], {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (r.status !== 0) throw new Error(`next build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
      // Date the build by its start: a source edited while it ran makes the next run rebuild.
      utimesSync(path.join(ROOT, '.next/BUILD_ID'), started, started);
    }
    mkdirSync(READERS, { recursive: true });
    const file = path.join(READERS, readerId);
    writeFileSync(file, '');
    return () => rmSync(file, { force: true });
  });
}

export interface AppServer {
  /** e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  port: number;
  /** Everything the server printed so far (for diagnosing a failing test). */
  output(): string;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Builds the app if needed, then starts `next start` (NODE_ENV=production) on a free loopback port
 * against `databaseUrl`. `env` adds or overrides variables; pass `SESSION_SECRET: undefined` to
 * start without one. Resolves once the server answers HTTP.
 */
export async function startAppServer(opts: { databaseUrl: string; env?: Record<string, string | undefined>; host?: string }): Promise<AppServer> {
  const port = await freePort();
  const release = await ensureAppBuilt(`${process.pid}-${port}`);
  const host = opts.host ?? '127.0.0.1';
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    DATABASE_URL: opts.databaseUrl,
    SESSION_SECRET: 'test-session-secret-0123456789abcdef-0123456789',
    PORT: String(port),
    // No surprise backups from the in-process scheduler (instrumentation.ts) in a test's server;
    // tests of the scheduler pass their own BACKUP_SCHEDULE.
    BACKUP_SCHEDULE: 'off',
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [NEXT_BIN, 'start', '-p', String(port), '-H', host], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const baseUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const stop = async () => {
    if (alive) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    release();
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!alive) {
      release();
      throw new Error(`next start exited early:\n${out}`);
    }
    try {
      await fetch(`${baseUrl}/api/admin/__ready`, { redirect: 'manual' });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`next start did not answer within 60 s:\n${out}`);
      }
      await sleep(150);
    }
  }
  return { baseUrl, port, output: () => out, stop };
}
