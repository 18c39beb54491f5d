/**
 * npm run bench:export — the admin CSV export (GET /api/admin/backups/export) vs `psql \copy … csv header`.
 *
 * Database: `tickethub_bench_export` (scripts/bench-dbs.ts, built once): the TicketHub schema with
 * demo data in all ten tables and activity_logs filled to 2,000,000 rows.
 *
 * Compared, in alternating rounds (medians of BENCH_ROUNDS, default 3), each a separate process:
 *   one table:  ours `?table=activity_logs` (CSV)  vs  `psql -c "\copy public.activity_logs to FILE csv header"`
 *   all tables: ours `?all=true` (ZIP of ten CSVs + manifest.json)
 *               vs  one psql with a `\copy public.<t> to <t>.csv csv header` per table, then `zip -q -<level> -j`
 *               of those files at the same DEFLATE level as ours (or `zip -0` if ours stores);
 *               the psql \copy part alone is printed too.
 * "ours" is, by default, the library function the route streams (lib/queries/table-export.ts:
 * openTableExport → the web ReadableStream the route returns), read to the end and written to a
 * file, in a child process with a warm connection pool, timed from the call to the file's close:
 * what the route does minus the session check and the audit row. With BENCH_EXPORT_HTTP=1 it is
 * the real route instead: `next start` (built if stale) against the bench database, an admin
 * session, and the download written to a file (needs a `next build`, minutes on a busy machine).
 *
 * Options: BENCH_ROUNDS (3), BENCH_SCALE (1; 0.02 for a smoke run on its own small database),
 * BENCH_EXPORT_HTTP=1.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { benchScaleFromEnv, ensureExportBenchDb } from './bench-dbs';
import { conditions, measureProcess, median, mib, rss, sec, versions } from './bench-measure';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SELF = fileURLToPath(import.meta.url);
const TABLE = 'activity_logs';
const HTTP = process.env.BENCH_EXPORT_HTTP === '1';

interface Run {
  ms: number;
  bytes: number;
  maxRssMB: number | null;
  /** CPU time of our process (with start-up), for a busy machine: wall time there says little. */
  cpuMs?: number;
}

/** Child: one export through openTableExport into `file`; prints {ms, bytes}. */
async function child(url: string, what: 'table' | 'all', file: string): Promise<void> {
  const pg = (await import('pg')).default;
  const { openTableExport, EXPORTABLE_TABLES } = await import('../lib/queries/table-export');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // The route's pool is warm: open one connection before the clock starts.
  (await pool.connect()).release();
  const t0 = process.hrtime.bigint();
  const exp = await openTableExport(pool, { tables: what === 'all' ? [...EXPORTABLE_TABLES] : [TABLE], format: what === 'all' ? 'zip' : 'csv' });
  await pipeline(Readable.fromWeb(exp.stream as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(file));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await pool.end();
  const ru = process.resourceUsage();
  process.stdout.write(`${JSON.stringify({ ms, bytes: (await stat(file)).size, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000 })}\n`);
}

async function oursLib(url: string, what: 'table' | 'all', file: string): Promise<Run> {
  const r = await measureProcess(process.execPath, ['--import', 'tsx', SELF, '--child', url, what, file]);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ms: j.ms, bytes: j.bytes, maxRssMB: r.maxRssMB, cpuMs: j.cpuMs };
}

interface HttpApp {
  get(what: 'table' | 'all', file: string): Promise<Run>;
  stop(): Promise<void>;
}

async function startHttp(url: string): Promise<HttpApp> {
  const { startAppServer } = await import('../test/helpers/app-server');
  const { upsertAdmin } = await import('../lib/auth/admin-users');
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const email = 'bench-export@tickethub.et';
  const password = 'bench-export-password';
  try {
    await upsertAdmin(c, { email, password, fullName: 'Bench Export', role: 'admin' });
  } finally {
    await c.end();
  }
  process.stderr.write('bench:export: starting next start (builds .next first if stale) ...\n');
  const app = await startAppServer({ databaseUrl: url });
  const res = await fetch(`${app.baseUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (res.status !== 200) throw new Error(`login failed: HTTP ${res.status}`);
  const cookie = res.headers.getSetCookie().find((x) => x.startsWith('tickethub_session='))!.split(';')[0];
  return {
    async get(what, file) {
      const t0 = process.hrtime.bigint();
      const r = await fetch(`${app.baseUrl}/api/admin/backups/export?${what === 'all' ? 'all=true' : `table=${TABLE}`}`, { headers: { cookie } });
      if (r.status !== 200 || !r.body) throw new Error(`export failed: HTTP ${r.status} ${await r.text()}`);
      await pipeline(Readable.fromWeb(r.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(file));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      return { ms, bytes: (await stat(file)).size, maxRssMB: null };
    },
    stop: () => app.stop(),
  };
}

async function psqlTable(url: string, file: string): Promise<Run> {
  const r = await measureProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', `\\copy public.${TABLE} to '${file}' csv header`]);
  return { ms: r.ms, bytes: (await stat(file)).size, maxRssMB: r.maxRssMB };
}

/** psql \copy of every table into `dir`, then zip them at `level`: both timings. */
async function psqlAll(url: string, tables: readonly string[], dir: string, level: number): Promise<{ copy: Run; zip: Run; total: number }> {
  const copy = await measureProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...tables.flatMap((t) => ['-c', `\\copy public.${t} to '${path.join(dir, `${t}.csv`)}' csv header`])]);
  let bytes = 0;
  for (const t of tables) bytes += (await stat(path.join(dir, `${t}.csv`))).size;
  const zipFile = path.join(dir, 'all.zip');
  const z = await measureProcess('zip', ['-q', `-${level}`, '-j', zipFile, ...tables.map((t) => path.join(dir, `${t}.csv`))]);
  return { copy: { ms: copy.ms, bytes, maxRssMB: copy.maxRssMB }, zip: { ms: z.ms, bytes: (await stat(zipFile)).size, maxRssMB: z.maxRssMB }, total: copy.ms + z.ms };
}

async function main(): Promise<void> {
  const scale = benchScaleFromEnv();
  const db = await ensureExportBenchDb(scale);
  const { EXPORTABLE_TABLES } = await import('../lib/queries/table-export');
  const { EXPORT_ZIP_LEVEL } = await import('../lib/queries/table-export');
  const before = conditions();
  const t0 = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-export-'));
  const http = HTTP ? await startHttp(db.url) : null;
  const ours = (what: 'table' | 'all', file: string) => (http ? http.get(what, file) : oursLib(db.url, what, file));
  const res = { oursTable: [] as Run[], psqlTable: [] as Run[], oursAll: [] as Run[], psqlAllCopy: [] as Run[], psqlAllZip: [] as Run[], psqlAllTotal: [] as number[] };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const dir = path.join(work, String(i));
      await mkdir(dir, { recursive: true });
      const load = () => `[load ${os.loadavg()[0].toFixed(1)}]`;
      const steps: Array<() => Promise<void>> = [
        async () => {
          const r = await ours('table', path.join(dir, 'ours.csv'));
          res.oursTable.push(r);
          process.stderr.write(`round ${i + 1}/${ROUNDS} ours CSV  ${sec(r.ms)} ${mib(r.bytes)} peak RSS ${rss(r.maxRssMB)}${r.cpuMs ? ` CPU ${sec(r.cpuMs)}` : ''} ${load()}\n`);
        },
        async () => {
          const r = await psqlTable(db.url, path.join(dir, 'psql.csv'));
          res.psqlTable.push(r);
          process.stderr.write(`round ${i + 1}/${ROUNDS} psql CSV  ${sec(r.ms)} ${mib(r.bytes)} ${load()}\n`);
        },
        async () => {
          const r = await ours('all', path.join(dir, 'ours.zip'));
          res.oursAll.push(r);
          process.stderr.write(`round ${i + 1}/${ROUNDS} ours ZIP  ${sec(r.ms)} ${mib(r.bytes)} peak RSS ${rss(r.maxRssMB)}${r.cpuMs ? ` CPU ${sec(r.cpuMs)}` : ''} ${load()}\n`);
        },
        async () => {
          const sub = path.join(dir, 'psql-all');
          await mkdir(sub);
          const r = await psqlAll(db.url, EXPORTABLE_TABLES, sub, EXPORT_ZIP_LEVEL);
          res.psqlAllCopy.push(r.copy);
          res.psqlAllZip.push(r.zip);
          res.psqlAllTotal.push(r.total);
          process.stderr.write(`round ${i + 1}/${ROUNDS} psql all ${sec(r.copy.ms)} ${mib(r.copy.bytes)} + zip -${EXPORT_ZIP_LEVEL} ${sec(r.zip.ms)} ${mib(r.zip.bytes)} ${load()}\n`);
        },
      ];
      // Alternate: even rounds ours first, odd rounds psql first.
      const order = i % 2 === 0 ? [0, 1, 2, 3] : [1, 0, 3, 2];
      for (const k of order) await steps[k]();
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await http?.stop();
    await rm(work, { recursive: true, force: true });
  }
  const after = conditions();
  const m = (xs: Run[]) => median(xs.map((x) => x.ms));
  const b = (xs: Run[]) => median(xs.map((x) => x.bytes));
  const maxRss = (xs: Run[]) => (xs.some((x) => x.maxRssMB === null) ? null : Math.max(...xs.map((x) => x.maxRssMB!)));
  const oT = m(res.oursTable);
  const pT = m(res.psqlTable);
  const oA = m(res.oursAll);
  const pA = median(res.psqlAllTotal);
  const pC = m(res.psqlAllCopy);
  const zipDesc = EXPORT_ZIP_LEVEL === 0 ? 'STORE (no compression)' : `DEFLATE level ${EXPORT_ZIP_LEVEL}`;
  process.stdout.write(
    [
      `## bench:export — ${new Date().toISOString()}, BENCH_SCALE=${scale}, BENCH_ROUNDS=${ROUNDS}, took ${sec(Date.now() - t0)}`,
      `database ${db.name}: ${db.rows.toLocaleString('en-US')} rows in ${EXPORTABLE_TABLES.length} TicketHub tables (${TABLE}: ${Math.round(2_000_000 * scale).toLocaleString('en-US')})`,
      `ours = ${http ? 'GET /api/admin/backups/export over HTTP (next start, admin session), body written to a file' : 'openTableExport (the route\'s data path) in a child process, stream written to a file'}; ZIP entries: ${zipDesc}`,
      `machine: nproc ${before.nproc}; load average before ${before.load}, after ${after.load}`,
      `  uptime before: ${before.uptime}`,
      `  uptime after:  ${after.uptime}`,
      `  ${versions()}`,
      '',
      `| export | ours | psql | ours / psql | ours size | psql size | ours peak RSS |`,
      `|---|---|---|---|---|---|---|`,
      `| one table, ${TABLE} (CSV) vs \`\\copy … csv header\` | ${sec(oT)} | ${sec(pT)} | **${(oT / pT).toFixed(2)}×** | ${mib(b(res.oursTable))} | ${mib(b(res.psqlTable))} | ${rss(maxRss(res.oursTable))} |`,
      `| all ${EXPORTABLE_TABLES.length} tables (ZIP) vs \`\\copy\` per table + \`zip -${EXPORT_ZIP_LEVEL}\` | ${sec(oA)} | ${sec(pA)} | **${(oA / pA).toFixed(2)}×** | ${mib(b(res.oursAll))} | ${mib(b(res.psqlAllZip))} | ${rss(maxRss(res.oursAll))} |`,
      `| all ${EXPORTABLE_TABLES.length} tables (ZIP) vs \`\\copy\` per table alone (uncompressed CSVs) | ${sec(oA)} | ${sec(pC)} | ${(oA / pC).toFixed(2)}× | ${mib(b(res.oursAll))} | ${mib(b(res.psqlAllCopy))} | — |`,
      '',
      `target (issue 13): ours ≤ 1.2× psql. Medians of ${ROUNDS} alternating rounds. Our CSV differs from psql's on purpose (UTF-8 BOM, secret columns left out, formula guard, ISO 8601 timestamps in the export time zone, rows ordered by primary key).`,
      '',
    ].join('\n'),
  );
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4] as 'table' | 'all', process.argv[5]).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench:export failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
