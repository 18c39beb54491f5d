import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/temp-dirs';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** A running `scripts/start.ts` with its combined output collected. */
export interface Launcher {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once `pattern` appears; rejects if the launcher exits first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves with the exit code. */
  exit: Promise<number | null>;
}

export function launch(args: string[], env: Record<string, string>): Launcher {
  const clean = { ...process.env };
  for (const k of ['DATABASE_URL', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'SESSION_SECRET', 'PORT', 'TICKETHUB_DATA_DIR']) delete clean[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const l of listeners) l();
    resolve(code);
  }));
  return {
    child,
    output: () => out,
    exit,
    waitFor(pattern, ms = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}; output:\n${out}`)), ms);
        const check = () => {
          if (pattern.test(out)) done();
          else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`launcher exited (${child.exitCode ?? child.signalCode}) before ${pattern}; output:\n${out}`));
        };
        const done = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve(out);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/**
 * A fresh data directory the embedded server's `postgres` user can enter (mkdtemp makes 0700),
 * removed when the test file ends.
 */
export async function tempDataDir(): Promise<string> {
  const dir = await tempDir('tickethub-start-');
  await chmod(dir, 0o755);
  return dir;
}

/** Command lines of running processes mentioning `needle` (e.g. the data directory). */
export function processesMentioning(needle: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}
