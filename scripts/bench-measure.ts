/**
 * Measuring commands as a user runs them, for the benchmarks (bench:backup, bench:scale,
 * bench:export): each contestant is a separate process, timed wall-clock from spawn to exit, its
 * peak RSS read by GNU time (`/usr/bin/time -f %M`, the whole process: Node, tsx, the backup).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GNU_TIME = '/usr/bin/time';

export interface ProcResult {
  /** Wall time from spawn to exit. */
  ms: number;
  /** Peak RSS of the process (MB), null when /usr/bin/time is unavailable. */
  maxRssMB: number | null;
  /** User + system CPU time of the process (ms), null when /usr/bin/time is unavailable. */
  cpuMs: number | null;
  stdout: string;
}

const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');

/**
 * `process.execPath` arguments that run the CLI as `npx tickethub-backup ...` does: with the Node
 * flags of the bin's `#!/usr/bin/env -S node ...` line, then the bin, then `args`.
 */
export function cliArgs(args: string[]): string[] {
  const shebang = readFileSync(BIN, 'utf8').split('\n', 1)[0];
  const flags = /^#!\/usr\/bin\/env -S node (.*)$/.exec(shebang)?.[1].trim().split(/\s+/) ?? [];
  return [...flags, BIN, ...args];
}

/**
 * Runs `cmd args` to completion (stdout captured unless `stdoutFile` is given: then the process
 * writes straight into that file, e.g. /dev/null) and measures it. Non-zero exit rejects with its stderr.
 */
export async function measureProcess(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdoutFile?: string } = {}): Promise<ProcResult> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-time-'));
  const timeFile = path.join(tmp, 'time');
  const gnu = existsSync(GNU_TIME);
  const [file, argv] = gnu ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, cmd, ...args]] : [cmd, args];
  try {
    const { open } = await import('node:fs/promises');
    const out = opts.stdoutFile ? await open(opts.stdoutFile, 'w') : null;
    const t0 = process.hrtime.bigint();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(file, argv, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', out ? out.fd : 'pipe', 'pipe'] });
      let so = '';
      let se = '';
      child.stdout?.on('data', (d) => (so += d));
      child.stderr?.on('data', (d) => (se += d));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stdout: so, stderr: se }));
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await out?.close();
    if (code !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    let maxRssMB: number | null = null;
    let cpuMs: number | null = null;
    if (gnu) {
      const [kb, user, sys] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
      if (Number.isFinite(kb)) maxRssMB = kb / 1024;
      if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user + sys) * 1000;
    }
    return { ms, maxRssMB, cpuMs, stdout };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export interface CliBackupResult extends ProcResult {
  /** The backup's own durationMs (from its --json output: excludes Node/tsx start-up). */
  durationMs: number;
  sizeBytes: number;
  rows: number;
  verified: boolean | null;
}

/** `tickethub-backup backup --database-url URL --storage DIR --json [--no-verify]`, exactly as a user runs it. */
export async function runCliBackup(url: string, storageDir: string, verify: boolean, extra: string[] = []): Promise<CliBackupResult> {
  const r = await measureProcess(process.execPath, cliArgs(['backup', '--database-url', url, '--storage', storageDir, '--json', ...(verify ? [] : ['--no-verify']), ...extra]));
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ...r, durationMs: j.durationMs, sizeBytes: j.sizeBytes, rows: j.rows, verified: j.verified };
}

/** `pg_dump -Fc -f FILE -d URL`. */
export async function runPgDump(url: string, file: string): Promise<ProcResult & { sizeBytes: number }> {
  const r = await measureProcess('pg_dump', ['-Fc', '-f', file, '-d', url]);
  return { ...r, sizeBytes: (await stat(file)).size };
}

/** The floor: one psql running `COPY <t> TO STDOUT` for every table in turn, output to /dev/null. */
export async function runCopyFloor(url: string, tables: string[]): Promise<ProcResult> {
  return measureProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...tables.flatMap((t) => ['-c', `COPY ${t} TO STDOUT`])], { stdoutFile: '/dev/null' });
}

/** The machine's conditions: `nproc`, load averages (as `uptime` prints them), versions. */
export function conditions(): { nproc: number; load: string; uptime: string } {
  let nproc = os.availableParallelism();
  let uptime = '';
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
    uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    /* not on this system: os values below */
  }
  return { nproc, load: os.loadavg().map((l) => l.toFixed(2)).join(' '), uptime };
}

/**
 * The lines every benchmark report starts with: its title, then the conditions it ran under
 * (nproc, load averages and `uptime` before and after, tool versions).
 */
export function reportHeader(title: string, before: ReturnType<typeof conditions>, after: ReturnType<typeof conditions>): string[] {
  return [
    title,
    `machine: nproc ${before.nproc}; load average before ${before.load}, after ${after.load}`,
    `  uptime before: ${before.uptime}`,
    `  uptime after:  ${after.uptime}`,
    `  ${versions()}`,
  ];
}

export function versions(): string {
  const v = (cmd: string) => {
    try {
      return execFileSync(cmd, ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return `${cmd}: n/a`;
    }
  };
  return `node ${process.version}; ${v('pg_dump')}; ${v('psql')}; CLI: ${cliPath()}`;
}

/** Which code `tickethub-backup` runs: its bundle (fresh) or the sources through tsx (README "How the CLI starts"). */
function cliPath(): string {
  const r = spawnSync(process.execPath, cliArgs(['version']), { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TICKETHUB_DEBUG_CLI_PATH: '1' } });
  const line = (r.stderr ?? '').split('\n').find((l) => l.includes('running ')) ?? 'unknown';
  return line.includes('the bundle') ? 'the bundle (npm run build:cli)' : line.replace(/^.*running /, '');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const mib = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
export const rss = (mb: number | null) => (mb === null ? 'n/a' : `${mb.toFixed(0)} MB`);
