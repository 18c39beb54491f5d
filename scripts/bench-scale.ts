/**
 * npm run bench:scale — does the default backup stay linear in time and flat in memory as the data
 * grows? Runs `tickethub-backup backup --database-url URL --storage DIR --json` (the default
 * command, with its verification, exactly as a user runs it) on the benchmark database at 1×, 2×
 * and 4× its size (scripts/bench-dbs.ts; built once, reused; 4× of the standard database is
 * 10,000,000 rows, ~2.5 GB as COPY text, a few minutes to build the first time), BENCH_ROUNDS
 * rounds (default 3) with the sizes in rotating order, and prints a markdown table: rows, archive,
 * median time, time per million rows, time relative to 1× (linear = 2.00 and 4.00), peak RSS of
 * the whole process (GNU time; target <= 200 MB at every size).
 *
 * Options: BENCH_DBS=standard (default; or entropy, or standard,entropy), BENCH_SCALE_BASE (1: the
 * 1× size as a multiple of the benchmark database; 0.01 for a smoke run), BENCH_SCALE_FACTORS
 * (1,2,4), BENCH_ROUNDS (3), BENCH_PREPARE_ONLY=1 (build the databases only: do that before a
 * quiet run, building is not measured).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_KINDS, benchDbStats, benchScaleFromEnv, ensureBenchDb } from './bench-dbs';
import type { BenchDb, BenchKind } from './bench-dbs';
import { conditions, reportHeader, median, mib, rss, runCliBackup, sec } from './bench-measure';
import type { CliBackupResult } from './bench-measure';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  const base = benchScaleFromEnv('BENCH_SCALE_BASE', 1);
  const factors = (process.env.BENCH_SCALE_FACTORS ?? '1,2,4').split(',').map(Number);
  if (factors.some((f) => !Number.isFinite(f) || f <= 0)) throw new Error(`BENCH_SCALE_FACTORS must be positive numbers, got ${process.env.BENCH_SCALE_FACTORS}`);
  const kinds = (process.env.BENCH_DBS ?? 'standard').split(',').map((k) => k.trim()) as BenchKind[];
  for (const k of kinds) if (!BENCH_KINDS.includes(k)) throw new Error(`BENCH_DBS: unknown database kind ${JSON.stringify(k)}; use ${BENCH_KINDS.join(',')}`);
  const sets: { kind: BenchKind; dbs: { factor: number; db: BenchDb; rows: number; heap: number }[] }[] = [];
  for (const kind of kinds) {
    const dbs = [];
    for (const f of factors) {
      const db = await ensureBenchDb(kind, base * f);
      const st = await benchDbStats(db.url);
      dbs.push({ factor: f, db, rows: st.rows, heap: st.heapBytes });
    }
    sets.push({ kind, dbs });
  }
  if (process.env.BENCH_PREPARE_ONLY) return;
  const before = conditions();
  const t0 = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-scale-'));
  const out: string[] = [];
  try {
    for (const set of sets) {
      const runs = new Map<number, CliBackupResult[]>(set.dbs.map((d) => [d.factor, []]));
      for (let i = 0; i < ROUNDS; i++) {
        const order = set.dbs.map((_, k) => set.dbs[(k + i) % set.dbs.length]);
        for (const d of order) {
          const dir = path.join(work, `${d.db.name}-${i}`);
          await mkdir(dir, { recursive: true });
          const load = os.loadavg()[0].toFixed(1);
          const r = await runCliBackup(d.db.url, dir, true);
          runs.get(d.factor)!.push(r);
          process.stderr.write(`${d.db.name} round ${i + 1}/${ROUNDS}: ${sec(r.ms)} (backup's own ${sec(r.durationMs)})  ${mib(r.sizeBytes)}  peak RSS ${rss(r.maxRssMB)}  verified ${r.verified}  [load ${load}]\n`);
          await rm(dir, { recursive: true, force: true });
          if (i === 0 && d === order[0]) {
            // Rough forecast from the first run: time proportional to rows.
            const perRow = r.ms / d.rows;
            const total = ROUNDS * sets.reduce((s, x) => s + x.dbs.reduce((t, y) => t + y.rows * perRow, 0), 0);
            process.stderr.write(`bench:scale: estimated total ≈ ${sec(total)} (${ROUNDS} rounds, from this first run's time per row)\n`);
          }
        }
      }
      const m1 = median(runs.get(set.dbs[0].factor)!.map((r) => r.ms));
      out.push(
        '',
        `### ${set.kind} database, 1× = ${set.dbs[0].db.name} (${set.dbs[0].rows.toLocaleString('en-US')} rows); default command (verifies), ${ROUNDS} rounds in rotating order, medians`,
        '',
        '| size | database | rows | heap | archive | time | backup\'s own | s per M rows | time vs 1× (linear = size) | peak RSS |',
        '|---|---|---|---|---|---|---|---|---|---|',
        ...set.dbs.map((d) => {
          const rs = runs.get(d.factor)!;
          const m = median(rs.map((r) => r.ms));
          const own = median(rs.map((r) => r.durationMs));
          const peak = rs.some((r) => r.maxRssMB === null) ? null : Math.max(...rs.map((r) => r.maxRssMB!));
          return `| ${d.factor}× | ${d.db.name} | ${d.rows.toLocaleString('en-US')} | ${mib(d.heap)} | ${mib(median(rs.map((r) => r.sizeBytes)))} | ${sec(m)} | ${sec(own)} | ${(m / 1000 / (d.rows / 1e6)).toFixed(2)} | ${((m / m1) * set.dbs[0].factor).toFixed(2)} | ${rss(peak)} |`;
        }),
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const after = conditions();
  process.stdout.write(
    [
      ...reportHeader(`## bench:scale — ${new Date().toISOString()}, BENCH_SCALE_BASE=${base}, factors ${factors.join(',')}, BENCH_ROUNDS=${ROUNDS}, took ${sec(Date.now() - t0)}`, before, after),
      ...out,
      '',
      'targets (issue 13): time linear in size (the "time vs 1×" column ≈ the size), peak RSS ≤ 200 MB at every size. "time" is the process wall time (Node + tsx start-up included, a constant that makes small sizes look worse than linear); "backup\'s own" is the durationMs the backup reports.',
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:scale failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
