/**
 * npm run bench:restore — our restore, run as a user runs it, vs `pg_restore -j2`, on BOTH benchmark
 * databases of scripts/bench-dbs.ts (created once, reused): `tickethub_bench` (2.5M rows,
 * compressible) and `tickethub_bench_entropy` (issue 13's high-entropy shape, 2.5M rows).
 *
 * Per database: one backup with ours (`tickethub-backup backup --no-verify`) and one `pg_dump -Fc`
 * (not timed). Then rounds of four processes, in a rotating order (nobody always gets the warmer
 * cache), each into a brand-new database created before and dropped after (not timed):
 *   1. `tickethub-backup restore <archive> --target-url URL --yes --json`: the default, ONE
 *      transaction; the archive's SHA-256 (read beside the load), every member's SHA-256 and every
 *      table's COPY row count, all before COMMIT
 *   2. the same with `--jobs 2` (two connections, not atomic)
 *   3. `pg_restore -j2 -d URL <dump>`
 *   4. the same as 1 with `--check-content` (every table re-read before COMMIT), for reference
 * each into a database created (and CHECKPOINTed: no dirty buffers of the previous contestant) before,
 * each timed wall-clock from spawn to exit (Node start-up included), peak RSS by
 * `/usr/bin/time -f %M`. Prints per database a markdown table of medians and ratios to
 * `pg_restore -j2` (targets, issue 9: default ≤ 1.00×, `--jobs 2` ≤ 0.85×), with nproc, `uptime`
 * before and after, tool versions, and how long the run took. Before the rounds it prints how long
 * they should take (from the first round). At BENCH_SCALE=1 on a quiet 2-core machine expect about
 * 5 minutes per database (setup ~1 min, then ~1 min per round); building a missing benchmark
 * database adds about a minute each (`BENCH_PREPARE_ONLY=1` builds them ahead).
 *
 * Options: BENCH_ROUNDS (3), BENCH_SCALE (1; e.g. 0.05 for a quick run on its own small databases),
 * BENCH_DBS=standard,entropy, BENCH_CHECK_CONTENT=0 (skip contestant 4), BENCH_PREPARE_ONLY=1.
 *
 * Catalog scale: BENCH_CATALOG=5000 restores instead a database of that many small tables chained
 * by foreign keys (scripts/catalog-scale-db.ts; BENCH_CATALOG_DB names it). On stock settings the
 * atomic restore cannot fit one transaction's locks: it must refuse before touching anything (the
 * bench prints its message and how long refusing took); `--jobs 2` is timed against pg_restore -j2.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BENCH_KINDS, BENCH_SERVER, benchDbStats, benchScaleFromEnv, benchUrl, ensureBenchDb } from './bench-dbs';
import type { BenchDb, BenchKind } from './bench-dbs';
import { cliArgs, conditions, reportHeader, measureProcess, median, mib, rss, runCliBackup, runPgDump, sec } from './bench-measure';
import type { ProcResult } from './bench-measure';
import { ensureCatalogScaleDatabase } from './catalog-scale-db';
import { quoteIdent } from '../lib/backup/catalog/quote-ident';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CATALOG = Number(process.env.BENCH_CATALOG ?? 0);

type Contestant = 'atomic' | 'jobs2' | 'pg_restore' | 'check-content';
const LABEL: Record<Contestant, string> = {
  atomic: 'ours, default (`restore`, one transaction)',
  jobs2: 'ours, `restore --jobs 2` (not atomic)',
  pg_restore: '`pg_restore -j2`',
  'check-content': 'ours, `restore --check-content` (one transaction, content re-read)',
};

interface Run extends ProcResult {
  /** The restore's own durationMs (from --json; excludes Node/tsx start-up), or null for pg_restore. */
  ownMs: number | null;
  /** The atomic restore refused before touching anything (catalog scale): its message. */
  refused?: string;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BENCH_SERVER, application_name: 'tickethub-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function freshDb(name: string): Promise<string> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
    // Every contestant starts with no dirty buffers of the one before: otherwise the previous
    // restore's ~1 GB is written back (and its checkpoint runs) during the next one's timing.
    await c.query('CHECKPOINT').catch(() => {});
  });
  return benchUrl(name);
}

async function dropDb(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

/** `tickethub-backup restore <archive> --target-url URL --yes --json [...]`, as a user runs it. */
async function runOurs(archive: string, url: string, extra: string[], expectRows: number): Promise<Run> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.BACKUP_STORAGE_URL;
  let r: ProcResult;
  try {
    r = await measureProcess(process.execPath, cliArgs(['restore', archive, '--target-url', url, '--yes', '--json', ...extra]), { env });
  } catch (err) {
    // Catalog scale on stock settings: the atomic restore must refuse (lock budget) before touching anything.
    const msg = (err as Error).message;
    if (CATALOG && !extra.includes('--jobs') && /max_locks_per_transaction/.test(msg)) return { ms: NaN, maxRssMB: null, cpuMs: null, stdout: '', ownMs: null, refused: msg.replace(/^.*?failed \(exit 1\): /, '') };
    throw err;
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; rows: number; durationMs: number; tables: { rows: number; expectedRows: number; contentMatches: boolean | null }[] };
  if (!j.ok || j.rows !== expectRows || !j.tables.every((t) => t.rows === t.expectedRows && t.contentMatches !== false)) throw new Error(`our restore ${extra.join(' ')} did not restore the backup exactly: ${r.stdout.slice(0, 300)}`);
  return { ...r, ownMs: j.durationMs };
}

async function runPgRestore(dump: string, url: string): Promise<Run> {
  return { ...(await measureProcess('pg_restore', ['-j2', '-d', url, dump])), ownMs: null };
}

interface DbRuns {
  name: string;
  describe: string;
  archiveBytes: number;
  dumpBytes: number;
  runs: Record<Contestant, Run[]>;
}

/** Backup + dump of `url`, then ROUNDS rotating rounds of the contestants. */
async function benchOne(name: string, url: string, describe: string, rows: number, work: string): Promise<DbRuns> {
  const dir = path.join(work, name);
  process.stderr.write(`${name}: taking one backup with ours (--no-verify) and one pg_dump -Fc (not timed) ...\n`);
  const b = await runCliBackup(url, dir, false);
  const archive = path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.sql.gz'))!);
  const dumpFile = path.join(work, `${name}.dump`);
  const dump = await runPgDump(url, dumpFile);
  const contestants: Contestant[] = ['atomic', 'jobs2', 'pg_restore', ...(process.env.BENCH_CHECK_CONTENT === '0' ? [] : (['check-content'] as const))];
  const runs: Record<Contestant, Run[]> = { atomic: [], jobs2: [], pg_restore: [], 'check-content': [] };
  const target = `${name}_restore`;
  const roundStart = Date.now();
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const order = contestants.map((_, k) => contestants[(k + i) % contestants.length]);
      for (const who of order) {
        const turl = await freshDb(target);
        const load = os.loadavg()[0].toFixed(1);
        const r =
          who === 'pg_restore'
            ? await runPgRestore(dumpFile, turl)
            : await runOurs(archive, turl, who === 'jobs2' ? ['--jobs', '2'] : who === 'check-content' ? ['--check-content'] : [], b.rows);
        runs[who].push(r);
        const line = r.refused ? `REFUSED: ${r.refused}` : `${sec(r.ms)}${r.ownMs !== null ? ` (restore's own ${sec(r.ownMs)})` : ''}  peak RSS ${rss(r.maxRssMB)}`;
        process.stderr.write(`${name} round ${i + 1}/${ROUNDS} ${who.padEnd(13)} ${line}  [load ${load}]\n`);
        await dropDb(target);
      }
      if (i === 0 && ROUNDS > 1) {
        const per = Date.now() - roundStart;
        process.stderr.write(`${name}: round 1 took ${sec(per)}; the remaining ${ROUNDS - 1} should take about ${sec(per * (ROUNDS - 1))}\n`);
      }
    }
  } finally {
    await dropDb(target).catch(() => {});
  }
  return { name, describe, archiveBytes: b.sizeBytes, dumpBytes: dump.sizeBytes, runs };
}

/**
 * Each round's time over the `pg_restore -j2` of the SAME round: on a machine whose speed drifts
 * between rounds (other tenants), these paired ratios say more than the ratio of the medians.
 */
function perRound(r: DbRuns): string[] {
  const base = r.runs.pg_restore;
  const lines = (['atomic', 'jobs2', 'check-content'] as const)
    .filter((who) => r.runs[who].length === base.length && base.length > 0 && !r.runs[who].some((x) => x.refused))
    .map((who) => {
      const ratios = r.runs[who].map((x, i) => x.ms / base[i].ms);
      return `${LABEL[who]}: ${ratios.map((x) => x.toFixed(2)).join(' / ')} (median ${median(ratios).toFixed(2)}×)`;
    });
  return lines.length ? ['Per round, over that round\'s `pg_restore -j2`:', '', ...lines.map((l) => `- ${l}`), ''] : [];
}

function report(r: DbRuns): string[] {
  const p = median(r.runs.pg_restore.map((x) => x.ms));
  const TARGET: Partial<Record<Contestant, string>> = { atomic: '≤ 1.00', jobs2: '≤ 0.85' };
  const maxRss = (xs: Run[]) => (xs.some((x) => x.maxRssMB === null) ? null : Math.max(...xs.map((x) => x.maxRssMB!)));
  const row = (who: Contestant) => {
    const xs = r.runs[who];
    if (!xs.length) return [];
    if (xs.some((x) => x.refused)) return [`| ${LABEL[who]} | refused before touching anything: ${xs.find((x) => x.refused)!.refused} | — | — | — | — |`];
    const m = median(xs.map((x) => x.ms));
    const own = xs[0].ownMs === null ? null : median(xs.map((x) => x.ownMs!));
    const ratio = who === 'pg_restore' ? '1.00' : `**${(m / p).toFixed(2)}×**${own !== null ? ` (own ${(own / p).toFixed(2)}×)` : ''}`;
    const cpu = xs.every((x) => x.cpuMs !== null) ? sec(median(xs.map((x) => x.cpuMs!))) : 'n/a';
    return [`| ${LABEL[who]} | ${sec(m)}${own !== null ? ` (restore's own ${sec(own)})` : ''} | ${ratio} | ${TARGET[who] ?? '—'} | ${rss(maxRss(xs))} | ${cpu} |`];
  };
  return [
    '',
    `### ${r.name}: ${r.describe}; our archive ${mib(r.archiveBytes)}, pg_dump -Fc ${mib(r.dumpBytes)}`,
    `${ROUNDS} rotating rounds, medians; each restore into a new empty database; peak RSS = max over rounds (whole process)`,
    '',
    '| command | time | vs `pg_restore -j2` | target | peak RSS | process CPU |',
    '|---|---|---|---|---|---|',
    ...row('atomic'),
    ...row('jobs2'),
    ...row('pg_restore'),
    ...row('check-content'),
    '',
    ...perRound(r),
    '"time" is the process wall time as a user sees it (Node start-up included; the header says whether the CLI ran from its bundle); "restore\'s own" is the durationMs the restore reports (preflight included); "process CPU" is the client process\'s user + system time (median; the server\'s work is not in it).',
  ];
}

async function main(): Promise<void> {
  const scale = benchScaleFromEnv();
  const targets: { name: string; url: string; describe: string; rows: number }[] = [];
  if (CATALOG) {
    const name = process.env.BENCH_CATALOG_DB ?? `tickethub_bench_catalog_${CATALOG}`;
    const url = await ensureCatalogScaleDatabase(BENCH_SERVER, name, CATALOG);
    targets.push({ name, url, describe: `${CATALOG} tables chained by ${CATALOG - 1} foreign keys`, rows: CATALOG * 10 });
  } else {
    const kinds = (process.env.BENCH_DBS ?? BENCH_KINDS.join(',')).split(',').map((k) => k.trim()) as BenchKind[];
    for (const k of kinds) if (!BENCH_KINDS.includes(k)) throw new Error(`BENCH_DBS: unknown database kind ${JSON.stringify(k)}; use ${BENCH_KINDS.join(',')}`);
    const dbs: BenchDb[] = [];
    for (const k of kinds) dbs.push(await ensureBenchDb(k, scale));
    for (const db of dbs) {
      const s = await benchDbStats(db.url);
      targets.push({ name: db.name, url: db.url, rows: s.rows, describe: `${db.kind}, ${s.rows.toLocaleString('en-US')} rows, ${mib(s.heapBytes)} heap — ${s.tables.map((t) => `${t.table} ${t.rows.toLocaleString('en-US')} rows`).join(', ')}` });
    }
  }
  if (process.env.BENCH_PREPARE_ONLY) return;
  const before = conditions();
  const t0 = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-restore-'));
  const lines: string[] = [];
  try {
    for (const t of targets) lines.push(...report(await benchOne(t.name, t.url, t.describe, t.rows, work)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const after = conditions();
  process.stdout.write(
    [
      ...reportHeader(`## bench:restore — ${new Date().toISOString()}, BENCH_SCALE=${scale}, BENCH_ROUNDS=${ROUNDS}, took ${sec(Date.now() - t0)}`, before, after),
      ...lines,
      '',
      'targets (issue 9): default (atomic) ≤ 1.00× and `--jobs 2` ≤ 0.85× the time of `pg_restore -j2`.',
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
