/**
 * npm run bench:catalog — the catalog-scale case of issue 9: a database of BENCH_CATALOG (5000)
 * small tables chained by foreign keys (scripts/catalog-scale-db.ts: 10 rows each, created once,
 * reused; BENCH_CATALOG_DB names it).
 *
 * Backup: alternating rounds (BENCH_ROUNDS, 3) of our backup (`tickethub-backup backup --no-verify`
 * as a user runs it, the bin's Node flags included; no read-back verification, as pg_dump does none)
 * and `pg_dump -Fc`; prints medians, the time
 * ratio (target <= 1.5), our peak RSS (target <= 200 MB), archive and manifest sizes, and what
 * `list` reads of the manifest (format v3: its first line, the summary; target: the manifest is
 * split so that list never reads it all, or it is <= 25% of the archive).
 * Restore: then runs bench-restore.ts's catalog case (our restore vs pg_restore on stock settings).
 * BENCH_SKIP_RESTORE=1 skips it. Every line carries the machine's load average and core count.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCliBackup } from './bench-measure';
import { ensureCatalogScaleDatabase } from './catalog-scale-db';

const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TABLES = Number(process.env.BENCH_CATALOG ?? 5000);
const HERE = path.dirname(fileURLToPath(import.meta.url));

interface Ours {
  ms: number;
  sizeBytes: number;
  maxRssMB: number;
  manifestBytes: number;
  cpuMs: number;
  summaryBytes: number;
}

const load = () => `load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.cpus().length} cores`;
const mb = (n: number) => `${(n / 1048576).toFixed(2)} MB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Bytes of the manifest's first line (what `list` reads of a v3 manifest). */
async function firstLineBytes(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    return nl === -1 ? bytesRead : nl + 1;
  } finally {
    await fh.close();
  }
}

/** Our backup exactly as a user runs it (the bin's Node flags included), without the read-back check (pg_dump does none). */
async function ours(url: string, dir: string): Promise<Ours> {
  const r = await runCliBackup(url, dir, false);
  const manifest = path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.manifest.json'))!);
  return { ms: r.ms, sizeBytes: r.sizeBytes, maxRssMB: r.maxRssMB ?? NaN, cpuMs: r.cpuMs ?? NaN, manifestBytes: (await stat(manifest)).size, summaryBytes: await firstLineBytes(manifest) };
}

function pgDump(url: string, file: string): Promise<{ ms: number; sizeBytes: number }> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    execFile('pg_dump', ['-Fc', '-f', file, '-d', url], async (err) => {
      if (err) return reject(err);
      resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, sizeBytes: (await stat(file)).size });
    });
  });
}

async function main(): Promise<void> {
  const name = process.env.BENCH_CATALOG_DB ?? `tickethub_bench_catalog_${TABLES}`;
  const url = await ensureCatalogScaleDatabase(SERVER, name, TABLES);
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-catalog-'));
  const o: Ours[] = [];
  const p: { ms: number; sizeBytes: number }[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const who of i % 2 === 0 ? ['ours', 'pg_dump'] : ['pg_dump', 'ours']) {
        const dir = path.join(work, `${who}-${i}`);
        await mkdir(dir, { recursive: true });
        if (who === 'ours') {
          const r = await ours(url, dir);
          o.push(r);
          process.stderr.write(`round ${i + 1} ours:    ${(r.ms / 1000).toFixed(2)} s  cpu ${(r.cpuMs / 1000).toFixed(2)} s  archive ${mb(r.sizeBytes)}  manifest ${mb(r.manifestBytes)}  peak RSS ${r.maxRssMB.toFixed(0)} MB  (${load()})\n`);
        } else {
          const r = await pgDump(url, path.join(dir, 'bench.dump'));
          p.push(r);
          process.stderr.write(`round ${i + 1} pg_dump: ${(r.ms / 1000).toFixed(2)} s  ${mb(r.sizeBytes)}  (${load()})\n`);
        }
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const oMs = median(o.map((r) => r.ms));
  const pMs = median(p.map((r) => r.ms));
  const rss = Math.max(...o.map((r) => r.maxRssMB));
  const archive = median(o.map((r) => r.sizeBytes));
  const manifest = median(o.map((r) => r.manifestBytes));
  const summary = Math.max(...o.map((r) => r.summaryBytes));
  process.stdout.write(
    [
      '',
      `catalog-scale backup: ${name} (${TABLES} tables, ${TABLES - 1} foreign keys), ${ROUNDS} alternating rounds, medians; ${load()} (at the end)`,
      `  ours (tickethub-backup): ${(oMs / 1000).toFixed(2)} s  (cpu ${(median(o.map((r) => r.cpuMs)) / 1000).toFixed(2)} s)  archive ${mb(archive)}  peak RSS ${rss.toFixed(0)} MB`,
      `  pg_dump -Fc:             ${(pMs / 1000).toFixed(2)} s  ${mb(median(p.map((r) => r.sizeBytes)))}`,
      `  time ratio ours/pg_dump: ${(oMs / pMs).toFixed(2)}  (target <= 1.5)`,
      `  peak RSS:                ${rss.toFixed(0)} MB  (target <= 200 MB)`,
      `  manifest / archive:      ${((100 * manifest) / archive).toFixed(0)}% (${mb(manifest)}); list reads its first line only: ${summary} bytes (${((100 * summary) / archive).toFixed(3)}% of the archive)`,
      '',
    ].join('\n'),
  );
  if (process.env.BENCH_SKIP_RESTORE) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'bench-restore.ts')], { stdio: 'inherit', env: { ...process.env, BENCH_CATALOG: String(TABLES), BENCH_CATALOG_DB: name } });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`bench-restore failed (exit ${code})`))));
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
