/**
 * npm run bench:encryption — what BACKUP_ENCRYPTION_RECIPIENTS costs (issue 12's targets: an
 * encrypted backup takes <= 1.15x the time of the unencrypted one, peak RSS <= 200 MB).
 *
 * On `tickethub_bench` (scripts/bench-dbs.ts 'standard': 2.5M rows, created once and reused) it
 * runs BENCH_ROUNDS (3) rounds of our backup unencrypted and age-encrypted (a fresh recipient),
 * alternating which goes first (neither always gets the warmer cache), each in its own child process
 * so its peak RSS is that backup's alone, without verification (the same work in both). Prints the
 * per-round numbers, the medians, the time ratio encrypted/plain (wall clock, and CPU time, which
 * a busy machine disturbs less), nproc and `uptime` before and after. Run it on a quiet machine:
 * wall-clock ratios measured under load are not evidence.
 *
 * Options: BENCH_ROUNDS (3), BENCH_SCALE (1; e.g. 0.02 for a smoke run on its own small database),
 * BENCH_DATABASE_URL (the server; default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchScaleFromEnv, ensureBenchDb } from './bench-dbs';
import { conditions, median, mib, sec } from './bench-measure';

const SELF = fileURLToPath(import.meta.url);

interface Run {
  ms: number;
  cpuMs: number;
  maxRssMB: number;
  /** Bytes of the stored archive file (ciphertext when encrypted). */
  storedBytes: number;
  rows: number;
  encrypted: boolean;
}

function rounds(): number {
  const raw = process.env.BENCH_ROUNDS ?? '3';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`BENCH_ROUNDS must be a whole number from 1 to 50, got ${JSON.stringify(raw)}`);
  return n;
}

/** One backup in a fresh child process. */
function runChild(dbUrl: string, dir: string, recipient: string | null): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', dbUrl, dir, ...(recipient ? [recipient] : [])], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`backup child failed (exit ${code})`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as Run);
    });
  });
}

async function childMain(dbUrl: string, dir: string, recipient: string | undefined): Promise<void> {
  const { runBackup } = await import('../lib/backup/run-backup');
  const { openStorage } = await import('../lib/storage/open-storage');
  const storage = openStorage(dir);
  const t = process.hrtime.bigint();
  const r = await runBackup({ databaseUrl: dbUrl, storage, trigger: 'cli', verify: false, encryptionRecipients: recipient ? [recipient] : null });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  await storage.close();
  const archive = (await readdir(dir)).find((f) => f.startsWith(r.id) && /\.sql\.gz(\.age)?$/.test(f));
  if (!archive) throw new Error(`no archive of ${r.id} in ${dir}`);
  if (archive.endsWith('.age') !== Boolean(recipient)) throw new Error(`expected ${recipient ? 'an encrypted' : 'a plain'} archive, found ${archive}`);
  const ru = process.resourceUsage();
  const res: Run = { ms, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000, maxRssMB: ru.maxRSS / 1024, storedBytes: (await stat(path.join(dir, archive))).size, rows: r.rows, encrypted: Boolean(recipient) };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

async function main(): Promise<void> {
  const n = rounds();
  const scale = benchScaleFromEnv();
  const db = await ensureBenchDb('standard', scale);
  const { generateKeyPair } = await import('../lib/backup/encryption/encryption-keys');
  const { recipient } = await generateKeyPair();
  const before = conditions();
  const t0 = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-encryption-'));
  const plain: Run[] = [];
  const sealed: Run[] = [];
  try {
    for (let i = 0; i < n; i++) {
      for (const enc of i % 2 === 0 ? [false, true] : [true, false]) {
        const dir = path.join(work, `${enc ? 'enc' : 'plain'}-${i}`);
        await mkdir(dir, { recursive: true });
        const r = await runChild(db.url, dir, enc ? recipient : null);
        (enc ? sealed : plain).push(r);
        process.stderr.write(`round ${i + 1} ${enc ? 'encrypted' : 'plain    '}: ${sec(r.ms)}  CPU ${sec(r.cpuMs)}  stored ${mib(r.storedBytes)}  peak RSS ${r.maxRssMB.toFixed(0)} MB  load ${os.loadavg()[0].toFixed(1)}\n`);
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const after = conditions();
  const p = median(plain.map((r) => r.ms));
  const e = median(sealed.map((r) => r.ms));
  const pc = median(plain.map((r) => r.cpuMs));
  const ec = median(sealed.map((r) => r.cpuMs));
  const ratio = e / p;
  process.stdout.write(
    [
      `## bench:encryption — ${new Date().toISOString()}, ${db.name} (${plain[0].rows.toLocaleString('en-US')} rows, BENCH_SCALE=${scale}), ${n} alternating rounds, medians, took ${sec(Date.now() - t0)}`,
      `machine: nproc ${before.nproc}; load average before ${before.load}, after ${after.load}`,
      `  uptime before: ${before.uptime}`,
      `  uptime after:  ${after.uptime}`,
      `| backup | time | CPU time | stored size | peak RSS |`,
      `|---|---|---|---|---|`,
      `| plain | ${sec(p)} | ${sec(pc)} | ${mib(median(plain.map((r) => r.storedBytes)))} | ${Math.max(...plain.map((r) => r.maxRssMB)).toFixed(0)} MB |`,
      `| encrypted (age) | ${sec(e)} | ${sec(ec)} | ${mib(median(sealed.map((r) => r.storedBytes)))} | ${Math.max(...sealed.map((r) => r.maxRssMB)).toFixed(0)} MB |`,
      `time ratio encrypted/plain: ${ratio.toFixed(3)} (target <= 1.15: ${ratio <= 1.15 ? 'met' : 'NOT met'}); CPU-time ratio ${(ec / pc).toFixed(3)}`,
      `encrypted peak RSS: ${Math.max(...sealed.map((r) => r.maxRssMB)).toFixed(0)} MB (target <= 200 MB)`,
      ...(Number(before.load.split(' ')[0]) > before.nproc * 0.5 ? [`WARNING: load average ${before.load} on ${before.nproc} cores: the wall-clock ratio is not evidence; run again on a quiet machine`] : []),
      '',
    ].join('\n'),
  );
}

if (process.argv[2] === '--child') {
  childMain(process.argv[3], process.argv[4], process.argv[5]).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
