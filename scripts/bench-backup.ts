/**
 * npm run bench:backup — our backup, run as a user runs it, vs `pg_dump -Fc`, on BOTH benchmark
 * databases of scripts/bench-dbs.ts (created once, reused): `tickethub_bench` (2.5M rows,
 * compressible) and `tickethub_bench_entropy` (issue 13's high-entropy shape, 2.5M rows).
 *
 * Each round runs, in a rotating order (nobody always gets the warmer cache), four processes:
 *   1. `tickethub-backup backup --database-url URL --storage DIR --json` (the default: verifies)
 *   2. the same with `--no-verify`
 *   3. `pg_dump -Fc -f FILE -d URL`
 *   4. the floor: one `psql` running `COPY <table> TO STDOUT` for every table, output to /dev/null
 * each timed wall-clock from spawn to exit, its peak RSS taken by `/usr/bin/time -f %M`. Prints per
 * database a markdown table of medians: time, ratio to pg_dump -Fc, archive size and its ratio,
 * peak RSS; plus nproc, `uptime` before and after, and tool versions.
 *
 * Options: BENCH_ROUNDS (3), BENCH_SCALE (1; e.g. 0.02 for a quick smoke run on its own small
 * databases), BENCH_DBS=standard,entropy (which databases), BENCH_PREPARE_ONLY=1 (create the
 * databases only), BACKUP_WORKERS / BACKUP_GZIP_LEVEL / BACKUP_CHUNK_MB (passed through to the
 * engine, for tuning). Scaling (1x/2x/4x) is `npm run bench:scale` (scripts/bench-scale.ts).
 *
 * BENCH_ENCRYPTION=1 instead alternates our plain backup with our age-encrypted one (a fresh
 * recipient; BACKUP_ENCRYPTION_RECIPIENTS's cost) and prints the time ratio (target <= 1.15) and
 * the encrypted run's peak RSS (target <= 200 MB).
 *
 * Catalog scale: BENCH_CATALOG=5000 benchmarks instead a database of that many small tables
 * chained by foreign keys (scripts/catalog-scale-db.ts; 10 rows each; name BENCH_CATALOG_DB or
 * tickethub_bench_catalog_<n>, created once): time vs pg_dump -Fc (target <= 1.5), peak RSS
 * (<= 200 MB) and manifest size vs archive size (<= 25%), with the machine's load average.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_KINDS, benchDbStats, benchScaleFromEnv, ensureBenchDb } from './bench-dbs';
import type { BenchDb, BenchKind } from './bench-dbs';
import { conditions, reportHeader, median, mib, rss, runCliBackup, runCopyFloor, runPgDump, sec } from './bench-measure';
import type { CliBackupResult, ProcResult } from './bench-measure';
import { ensureCatalogScaleDatabase } from './catalog-scale-db';

const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SELF = fileURLToPath(import.meta.url);

interface OursResult {
  ms: number;
  sizeBytes: number;
  rows: number;
  maxRssMB: number;
  verifyMs?: number;
  /** Size of the manifest in storage. */
  manifestBytes?: number;
  /** CPU time of our process (all threads, incl. zlib's), for tuning on a noisy machine. */
  cpuMs?: number;
}

/** One backup in a fresh child process, so its peak RSS is the backup's alone. */
function runOursChild(dbUrl: string, dir: string, verify: boolean, recipient?: string): Promise<OursResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', dbUrl, dir, verify ? 'verify' : 'no-verify', ...(recipient ? [recipient] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`our backup failed (exit ${code})`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

async function childMain(dbUrl: string, dir: string, verify: boolean, recipient?: string): Promise<void> {
  const { runBackup } = await import('../lib/backup/run-backup');
  const { verifyBackup } = await import('../lib/backup/verify');
  const { openStorage } = await import('../lib/storage/open-storage');
  const storage = openStorage(dir);
  const t = process.hrtime.bigint();
  const r = await runBackup({ databaseUrl: dbUrl, storage, trigger: 'cli', verify: false, encryptionRecipients: recipient ? [recipient] : null });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let verifyMs: number | undefined;
  if (verify) {
    const v0 = process.hrtime.bigint();
    const v = await verifyBackup(storage, r.id);
    if (!v.ok) throw new Error(`verification failed: ${JSON.stringify(v.problems[0])}`);
    verifyMs = Number(process.hrtime.bigint() - v0) / 1e6;
  }
  await storage.close();
  const ru = process.resourceUsage();
  const manifestBytes = (await stat(path.join(dir, `${r.id}.manifest.json`))).size;
  const res: OursResult = { ms, sizeBytes: r.sizeBytes, rows: r.rows, maxRssMB: ru.maxRSS / 1024, verifyMs, manifestBytes, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000 };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

/** Alternating rounds of ours / pg_dump -Fc on `url` (neither always gets the warmer cache). */
async function alternate(url: string, work: string): Promise<{ ours: OursResult[]; theirs: { ms: number; sizeBytes: number }[] }> {
  const ours: OursResult[] = [];
  const theirs: { ms: number; sizeBytes: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const who of i % 2 === 0 ? ['ours', 'pg_dump'] : ['pg_dump', 'ours']) {
      const dir = path.join(work, `${who}-${i}`);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(dir, { recursive: true });
      if (who === 'ours') {
        const r = await runOursChild(url, dir, false);
        ours.push(r);
        process.stderr.write(`round ${i + 1} ours:    ${(r.ms / 1000).toFixed(2)} s  ${mb(r.sizeBytes)}  manifest ${mb(r.manifestBytes ?? 0)}  peak RSS ${r.maxRssMB.toFixed(0)} MB  load ${os.loadavg()[0].toFixed(1)}\n`);
      } else {
        const r = await runPgDump(url, path.join(dir, 'bench.dump'));
        theirs.push(r);
        process.stderr.write(`round ${i + 1} pg_dump: ${(r.ms / 1000).toFixed(2)} s  ${mb(r.sizeBytes)}  load ${os.loadavg()[0].toFixed(1)}\n`);
      }
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { ours, theirs };
}

async function catalogMain(tables: number): Promise<void> {
  const name = process.env.BENCH_CATALOG_DB ?? `tickethub_bench_catalog_${tables}`;
  const url = await ensureCatalogScaleDatabase(SERVER, name, tables);
  if (process.env.BENCH_PREPARE_ONLY) return;
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-backup-catalog-'));
  try {
    const { ours, theirs } = await alternate(url, work);
    const oMs = median(ours.map((r) => r.ms));
    const pMs = median(theirs.map((r) => r.ms));
    const rss = Math.max(...ours.map((r) => r.maxRssMB));
    const archive = median(ours.map((r) => r.sizeBytes));
    const manifest = median(ours.map((r) => r.manifestBytes ?? 0));
    process.stdout.write(
      [
        '',
        `catalog-scale database: ${name} (${tables} tables, ${tables - 1} foreign keys, ${ours[0].rows.toLocaleString('en-US')} rows), ${ROUNDS} alternating rounds, medians`,
        `  machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (at the end)`,
        `  ours (tickethub-backup): ${(oMs / 1000).toFixed(2)} s   archive ${mb(archive)}   manifest ${mb(manifest)}   peak RSS ${rss.toFixed(0)} MB   [workers ${process.env.BACKUP_WORKERS ?? 2}]`,
        `  pg_dump -Fc:             ${(pMs / 1000).toFixed(2)} s   ${mb(median(theirs.map((r) => r.sizeBytes)))}`,
        `  time ratio ours/pg_dump: ${(oMs / pMs).toFixed(2)}  (target <= 1.5)`,
        `  peak RSS:                ${rss.toFixed(0)} MB  (target <= 200 MB)`,
        `  manifest / archive:      ${((100 * manifest) / archive).toFixed(0)}%  (target <= 25%)`,
      ].join('\n') + '\n',
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

type Contestant = 'default' | 'no-verify' | 'pg_dump' | 'copy';
const CONTESTANTS: Contestant[] = ['default', 'no-verify', 'pg_dump', 'copy'];

interface DbRuns {
  db: BenchDb;
  stats: Awaited<ReturnType<typeof benchDbStats>>;
  def: CliBackupResult[];
  noVerify: CliBackupResult[];
  dump: (ProcResult & { sizeBytes: number })[];
  copy: ProcResult[];
}

/** Rounds of the four contestants on one database; each round rotates who goes first (cache fairness). */
async function benchOne(db: BenchDb, work: string): Promise<DbRuns> {
  const stats = await benchDbStats(db.url);
  const runs: DbRuns = { db, stats, def: [], noVerify: [], dump: [], copy: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const order = CONTESTANTS.map((_, k) => CONTESTANTS[(k + i) % CONTESTANTS.length]);
    for (const who of order) {
      const dir = path.join(work, `${db.name}-${who}-${i}`);
      await mkdir(dir, { recursive: true });
      const load = os.loadavg()[0].toFixed(1);
      let line: string;
      if (who === 'default' || who === 'no-verify') {
        const r = await runCliBackup(db.url, dir, who === 'default');
        (who === 'default' ? runs.def : runs.noVerify).push(r);
        line = `${sec(r.ms)} (backup's own ${sec(r.durationMs)})  ${mib(r.sizeBytes)}  peak RSS ${rss(r.maxRssMB)}  verified ${r.verified}`;
      } else if (who === 'pg_dump') {
        const r = await runPgDump(db.url, path.join(dir, 'bench.dump'));
        runs.dump.push(r);
        line = `${sec(r.ms)}  ${mib(r.sizeBytes)}  peak RSS ${rss(r.maxRssMB)}`;
      } else {
        const r = await runCopyFloor(db.url, stats.tables.map((t) => t.table));
        runs.copy.push(r);
        line = sec(r.ms);
      }
      process.stderr.write(`${db.name} round ${i + 1}/${ROUNDS} ${who.padEnd(9)} ${line}  [load ${load}]\n`);
      await rm(dir, { recursive: true, force: true });
    }
  }
  return runs;
}

function report(r: DbRuns): string[] {
  const p = median(r.dump.map((x) => x.ms));
  const pSize = median(r.dump.map((x) => x.sizeBytes));
  const maxRss = (xs: { maxRssMB: number | null }[]) => (xs.some((x) => x.maxRssMB === null) ? null : Math.max(...xs.map((x) => x.maxRssMB!)));
  const row = (label: string, xs: CliBackupResult[]) => {
    const m = median(xs.map((x) => x.ms));
    const own = median(xs.map((x) => x.durationMs));
    const size = median(xs.map((x) => x.sizeBytes));
    return `| ${label} | ${sec(m)} (backup's own ${sec(own)}) | **${(m / p).toFixed(2)}×** (own ${(own / p).toFixed(2)}×) | ${mib(size)} | ${(size / pSize).toFixed(2)}× | ${rss(maxRss(xs))} |`;
  };
  const c = median(r.copy.map((x) => x.ms));
  const tables = r.stats.tables.map((t) => `${t.table} ${t.rows.toLocaleString('en-US')} rows ${mib(t.heapBytes)}`).join(', ');
  return [
    '',
    `### ${r.db.name} (${r.db.kind}): ${r.stats.rows.toLocaleString('en-US')} rows, ${mib(r.stats.heapBytes)} heap — ${tables}`,
    `${ROUNDS} alternating rounds, medians; ratios against pg_dump -Fc; peak RSS = max over rounds (whole process)`,
    '',
    '| command | time | vs `pg_dump -Fc` | archive | size vs `pg_dump -Fc` | peak RSS |',
    '|---|---|---|---|---|---|',
    row('ours, default (`tickethub-backup backup`, verifies)', r.def),
    row('ours, `--no-verify`', r.noVerify),
    `| \`pg_dump -Fc\` | ${sec(p)} | 1.00 | ${mib(pSize)} | 1.00 | ${rss(maxRss(r.dump))} |`,
    `| raw \`COPY\` of all tables to /dev/null (one psql) | ${sec(c)} | ${(c / p).toFixed(2)}× | — | — | — |`,
    '',
    `targets (issue 13): default ≤ 0.75× pg_dump -Fc, archive ≤ 1.10× its size, peak RSS ≤ 200 MB. "time" is the process wall time as a user sees it (Node + tsx start-up included); "backup's own" is the durationMs the backup reports.`,
  ];
}

async function main(): Promise<void> {
  if (process.env.BENCH_CATALOG) return catalogMain(Number(process.env.BENCH_CATALOG));
  const scale = benchScaleFromEnv();
  const kinds = (process.env.BENCH_DBS ?? BENCH_KINDS.join(',')).split(',').map((k) => k.trim()) as BenchKind[];
  for (const k of kinds) if (!BENCH_KINDS.includes(k)) throw new Error(`BENCH_DBS: unknown database kind ${JSON.stringify(k)}; use ${BENCH_KINDS.join(',')}`);
  const dbs: BenchDb[] = [];
  for (const k of kinds) dbs.push(await ensureBenchDb(k, scale));
  if (process.env.BENCH_PREPARE_ONLY) return;
  if (process.env.BENCH_ENCRYPTION) return benchEncryption(dbs[0].url);
  const before = conditions();
  const t0 = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-backup-'));
  const lines: string[] = [];
  try {
    for (const db of dbs) lines.push(...report(await benchOne(db, work)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const after = conditions();
  process.stdout.write(
    [
      ...reportHeader(`## bench:backup — ${new Date().toISOString()}, BENCH_SCALE=${scale}, BENCH_ROUNDS=${ROUNDS}, took ${sec(Date.now() - t0)}`, before, after),
      ...lines,
      '',
    ].join('\n'),
  );
}

/** BENCH_ENCRYPTION=1: plain vs age-encrypted backups of the same database, alternating. */
async function benchEncryption(url: string): Promise<void> {
  const { generateKeyPair } = await import('../lib/backup/encryption/encryption-keys');
  const { recipient } = await generateKeyPair();
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-backup-enc-'));
  try {
    const plain: OursResult[] = [];
    const sealed: OursResult[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const enc of i % 2 === 0 ? [false, true] : [true, false]) {
        const dir = path.join(work, `${enc ? 'enc' : 'plain'}-${i}`);
        const r = await runOursChild(url, dir, false, enc ? recipient : undefined);
        (enc ? sealed : plain).push(r);
        process.stderr.write(`round ${i + 1} ${enc ? 'encrypted' : 'plain    '}: ${(r.ms / 1000).toFixed(2)} s  ${mb(r.sizeBytes)}  peak RSS ${r.maxRssMB.toFixed(0)} MB  CPU ${((r.cpuMs ?? 0) / 1000).toFixed(1)} s\n`);
        await rm(dir, { recursive: true, force: true });
      }
    }
    const p = median(plain.map((r) => r.ms));
    const e = median(sealed.map((r) => r.ms));
    process.stdout.write(
      [
        '',
        `encryption benchmark: tickethub_bench (${plain[0].rows.toLocaleString('en-US')} rows), ${ROUNDS} rounds, medians`,
        `  plain:     ${(p / 1000).toFixed(2)} s`,
        `  encrypted: ${(e / 1000).toFixed(2)} s   peak RSS ${Math.max(...sealed.map((r) => r.maxRssMB)).toFixed(0)} MB  (target <= 200 MB)`,
        `  time ratio encrypted/plain: ${(e / p).toFixed(2)}  (target <= 1.15)`,
        '',
      ].join('\n'),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  childMain(process.argv[3], process.argv[4], process.argv[5] === 'verify', process.argv[6]).then(
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
      console.error(err);
      process.exit(1);
    },
  );
}
