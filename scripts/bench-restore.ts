/**
 * npm run bench:restore — our fresh restore vs `pg_restore -j2` of a `pg_dump -Fc` of the same
 * database (the benchmark database of `npm run bench:backup`: `tickethub_bench`, created here the
 * same way when absent).
 *
 * Takes one backup with ours and one `pg_dump -Fc`, then alternates, for BENCH_ROUNDS (3) rounds:
 * our atomic restore (one transaction; archive SHA-256 check before, row counts + content hashes
 * after, all included), our `--jobs 2` parallel restore (not atomic), and `pg_restore -j2`, each
 * into a brand-new database that is dropped afterwards. Prints medians and ratios.
 * Our restores run in a child process (tsx start-up excluded from the timing, reported apart).
 *
 * Options: BENCH_DATABASE_URL (server, default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_ROUNDS, BENCH_SKIP_PARALLEL=1.
 *
 * Catalog scale: BENCH_CATALOG=5000 restores instead a database of that many small tables chained
 * by foreign keys (scripts/catalog-scale-db.ts; BENCH_CATALOG_DB names it). On stock settings the
 * atomic restore cannot fit one transaction's locks: it must refuse before touching anything (the
 * bench prints its message and how long refusing took); `--jobs 2` is timed against pg_restore -j2.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { ensureCatalogScaleDatabase } from './catalog-scale-db';

const exec = promisify(execFile);
const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');
const CATALOG = Number(process.env.BENCH_CATALOG ?? 0);
const BENCH_DB = CATALOG ? (process.env.BENCH_CATALOG_DB ?? `tickethub_bench_catalog_${CATALOG}`) : 'tickethub_bench';

function urlFor(db: string): string {
  const u = new URL(SERVER);
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin(sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: SERVER });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

async function benchReady(): Promise<boolean> {
  if (!(await admin(`SELECT 1 FROM pg_database WHERE datname = '${BENCH_DB}'`)).rowCount) return false;
  const c = new pg.Client({ connectionString: urlFor(BENCH_DB) });
  await c.connect();
  try {
    return (await c.query(`SELECT to_regclass('public.bench_ready') IS NOT NULL AS ok`)).rows[0].ok;
  } finally {
    await c.end();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function freshDb(name: string): Promise<string> {
  await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  return urlFor(name);
}

interface ChildResult {
  ms: number;
  rows: number;
  maxRssMB: number;
  /** The atomic restore refused (lock budget): its one-line message. */
  refused?: string;
}

function oursChild(archive: string, target: string, jobs: number): Promise<ChildResult & { wallMs: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', archive, target, String(jobs)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`our restore failed (exit ${code})`));
      resolve({ ...JSON.parse(out.trim().split('\n').pop()!), wallMs: Date.now() - t0 });
    });
  });
}

async function child(archive: string, target: string, jobs: number): Promise<void> {
  const { restoreBackup } = await import('../lib/backup/restore/restore-backup');
  const { restoreParallel } = await import('../lib/backup/restore/restore-parallel');
  const t0 = performance.now();
  const r = await (jobs > 1 ? restoreParallel({ source: archive, targetUrl: target, jobs }) : restoreBackup({ source: archive, targetUrl: target, mode: 'fresh' })).catch((err) => {
    if (!CATALOG || (err as { code?: string }).code !== 'conflict') throw err;
    process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, rows: 0, maxRssMB: process.resourceUsage().maxRSS / 1024, refused: (err as Error).message })}\n`);
    return null;
  });
  if (!r) return;
  const ms = performance.now() - t0;
  if (!r.tables.every((t) => t.rows === t.expectedRows && t.contentMatches)) throw new Error('restored tables differ');
  process.stdout.write(`${JSON.stringify({ ms, rows: r.rows, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

async function main(): Promise<void> {
  if (CATALOG) await ensureCatalogScaleDatabase(SERVER, BENCH_DB, CATALOG);
  else if (!(await benchReady())) {
    process.stderr.write(`${BENCH_DB} is absent: creating it with scripts/bench-backup.ts (BENCH_PREPARE_ONLY) ...\n`);
    await exec(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench-backup.ts')], { cwd: ROOT, env: { ...process.env, BENCH_PREPARE_ONLY: '1', BENCH_SKIP_2X: '1' }, maxBuffer: 16 << 20 });
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-restore-'));
  try {
    const { runBackup } = await import('../lib/backup/run-backup');
    const { openStorage } = await import('../lib/storage/open-storage');
    const storage = openStorage(`file://${dir}`);
    process.stderr.write('taking one backup with ours and one pg_dump -Fc ...\n');
    const b = await runBackup({ databaseUrl: urlFor(BENCH_DB), storage, trigger: 'cli', verify: false });
    await storage.close();
    const archive = path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.sql.gz'))!);
    const dump = path.join(dir, 'bench.dump');
    await exec('pg_dump', ['-Fc', '-f', dump, '-d', urlFor(BENCH_DB)]);
    process.stderr.write(`ours: ${(b.sizeBytes / 1e6).toFixed(1)} MB, ${b.rows} rows; pg_dump -Fc: ${((await stat(dump)).size / 1e6).toFixed(1)} MB\n`);

    const ours: number[] = [];
    const oursWall: number[] = [];
    const oursRss: number[] = [];
    const par: number[] = [];
    const pgr: number[] = [];
    const target = CATALOG ? `${BENCH_DB}_restore` : 'tickethub_bench_restore';
    const refusals: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      let url = await freshDb(target);
      const o = await oursChild(archive, url, 1);
      if (o.refused) {
        const untouched = (await admin(`SELECT 1 FROM pg_database WHERE datname = '${target}'`)).rowCount === 1;
        process.stderr.write(`round ${round}: ours (atomic) refused after ${(o.ms / 1000).toFixed(2)} s, target ${untouched ? 'untouched' : 'MISSING'}: ${o.refused}\n`);
        refusals.push(o.refused);
      }
      ours.push(o.ms);
      oursWall.push(o.wallMs);
      oursRss.push(o.maxRssMB);
      process.stderr.write(`round ${round}: ours (atomic) ${(o.ms / 1000).toFixed(2)} s (process ${(o.wallMs / 1000).toFixed(2)} s, peak RSS ${o.maxRssMB.toFixed(0)} MB)\n`);
      if (!process.env.BENCH_SKIP_PARALLEL) {
        url = await freshDb(target);
        const p = await oursChild(archive, url, 2);
        par.push(p.ms);
        process.stderr.write(`round ${round}: ours --jobs 2 ${(p.ms / 1000).toFixed(2)} s\n`);
      }
      url = await freshDb(target);
      const t0 = performance.now();
      await exec('pg_restore', ['-j2', '-d', url, dump]);
      const ms = performance.now() - t0;
      pgr.push(ms);
      process.stderr.write(`round ${round}: pg_restore -j2 ${(ms / 1000).toFixed(2)} s\n`);
    }
    await admin(`DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`);
    const mo = median(ours);
    const mp = median(pgr);
    const lines = [
      `bench:restore — ${b.rows.toLocaleString('en-US')} rows (${BENCH_DB}), ${ROUNDS} rounds, medians; ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}:`,
      ...(refusals.length ? [`  ours, atomic: REFUSED before touching anything (${refusals.length}/${ROUNDS} rounds, ${(median(ours) / 1000).toFixed(2)} s incl. the archive check): ${refusals[0]}`] : []),
      ...(refusals.length ? [] : [`  ours, atomic (one transaction, SHA + content checks incl.): ${(mo / 1000).toFixed(2)} s  (process incl. start-up ${(median(oursWall) / 1000).toFixed(2)} s, peak RSS ${median(oursRss).toFixed(0)} MB)`]),
      ...(par.length ? [`  ours, --jobs 2 (not atomic):                                ${(median(par) / 1000).toFixed(2)} s`] : []),
      `  pg_restore -j2:                                             ${(mp / 1000).toFixed(2)} s`,
      `  ratio ${refusals.length ? 'atomic: refused (see above)' : `atomic / pg_restore -j2: ${(mo / mp).toFixed(2)} (target <= 1.00)`}${par.length ? `; --jobs 2 / pg_restore -j2: ${(median(par) / mp).toFixed(2)}` : ''}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], Number(process.argv[5])).catch((err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`bench:restore failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
