/**
 * npm run bench:backup — our backup vs `pg_dump -Fc` on a benchmark database.
 *
 * Creates (once; reused across runs) `tickethub_bench` on the BENCH_DATABASE_URL server (default
 * postgres://postgres@127.0.0.1:5432/postgres) with 2,000,000 activity_logs-like rows and 500,000
 * ticket-like rows (~630 MB as COPY text), and `tickethub_bench_2x` with twice that for the memory
 * check. Then alternates ours / pg_dump -Fc, three rounds each, and prints medians, their ratio,
 * both output sizes and our peak RSS (measured in a child process: process.resourceUsage().maxRSS).
 * Our backup runs without its read-back verification here (pg_dump does none); the verification's
 * own time is measured and printed separately.
 *
 * BENCH_ENCRYPTION=1 instead alternates our plain backup with our age-encrypted one (a fresh
 * recipient; BACKUP_ENCRYPTION_RECIPIENTS's cost) and prints the time ratio (target <= 1.15) and
 * the encrypted run's peak RSS (target <= 200 MB).
 *
 * Options: BENCH_ROUNDS (3), BENCH_SKIP_2X=1, BENCH_PREPARE_ONLY=1 (create the databases only), BACKUP_WORKERS / BACKUP_GZIP_LEVEL / BACKUP_CHUNK_MB
 * (passed through to the engine, for tuning).
 *
 * Catalog scale: BENCH_CATALOG=5000 benchmarks instead a database of that many small tables
 * chained by foreign keys (scripts/catalog-scale-db.ts; 10 rows each; name BENCH_CATALOG_DB or
 * tickethub_bench_catalog_<n>, created once): time vs pg_dump -Fc (target <= 1.5), peak RSS
 * (<= 200 MB) and manifest size vs archive size (<= 25%), with the machine's load average.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureCatalogScaleDatabase } from './catalog-scale-db';

const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SELF = fileURLToPath(import.meta.url);

function urlFor(db: string): string {
  const u = new URL(SERVER);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Builds the benchmark data in SQL (fast, no client round trips), unless already complete. */
async function ensureBenchDatabase(name: string, scale: number): Promise<void> {
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
  if (!exists) await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`);
  await admin.end();
  const c = new pg.Client({ connectionString: urlFor(name) });
  await c.connect();
  try {
    const ready = await c.query(`SELECT to_regclass('public.bench_ready') IS NOT NULL AS ok`);
    if (ready.rows[0].ok && (await c.query('SELECT scale FROM bench_ready')).rows[0]?.scale === scale) return;
    const n1 = 2_000_000 * scale;
    const n2 = 500_000 * scale;
    process.stderr.write(`creating ${name}: ${n1} activity_logs + ${n2} tickets rows (once) ...\n`);
    await c.query(`DROP TABLE IF EXISTS bench_ready, activity_logs, tickets CASCADE`);
    await c.query(`CREATE TABLE activity_logs (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, action text NOT NULL, entity_type text NOT NULL, entity_id text,
      description text NOT NULL DEFAULT '', ip_address text, user_agent text, metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
      admin_user_id uuid, created_at timestamptz NOT NULL DEFAULT now())`);
    await c.query(`CREATE TABLE tickets (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, receipt_id bigint NOT NULL, trip_id bigint NOT NULL, telegram_user_id bigint NOT NULL,
      seat_number integer NOT NULL, passenger_name text NOT NULL, ticket_code text NOT NULL UNIQUE, status text NOT NULL DEFAULT 'valid',
      issued_at timestamptz NOT NULL DEFAULT now(), used_at timestamptz)`);
    await c.query(`INSERT INTO activity_logs (action, entity_type, entity_id, description, ip_address, user_agent, metadata, admin_user_id, created_at)
      SELECT (ARRAY['TICKET_SOLD','RECEIPT_APPROVED','RECEIPT_REJECTED','ADMIN_SIGN_IN','TRIP_CREATED','AUTOMATED_BACKUP'])[1 + g % 6],
             (ARRAY['ticket','receipt','admin_user','trip','system'])[1 + g % 5],
             (g * 7919 % 1000003)::text,
             'ገዢ ' || (g % 9973) || ' bought seat ' || (g % 53) || ' on trip ' || (g % 4001) || ' ref ' || substr(md5(g::text), 1, 16),
             '10.' || (g % 256) || '.' || (g * 13 % 256) || '.' || (g * 29 % 256),
             (ARRAY['Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36','TelegramBot (like TwitterBot)','backup-cron-job'])[1 + g % 3],
             jsonb_build_object('amount_etb', (g % 5000) + 0.5, 'seats', 1 + g % 4, 'method', (ARRAY['telebirr','cbe','awash'])[1 + g % 3], 'hash', md5((g * 31)::text)),
             CASE WHEN g % 4 = 0 THEN NULL ELSE md5((g % 37)::text)::uuid END,
             timestamptz '2025-01-01 00:00:00+00' + g * interval '7 seconds'
        FROM generate_series(1::bigint, ${n1}) g`);
    await c.query(`INSERT INTO tickets (receipt_id, trip_id, telegram_user_id, seat_number, passenger_name, ticket_code, status, issued_at, used_at)
      SELECT g / 2 + 1, g % 4001 + 1, g % 99991 + 1, 1 + g % 53,
             (ARRAY['አበበ በቀለ','Tigist Haile','ሰላም ታደሰ','Dawit Mekonnen','ማርታ ገብሬ','Yonas Alemu'])[1 + g % 6] || ' ' || (g % 977),
             'TH-' || upper(lpad(to_hex(g), 10, '0')),
             (ARRAY['valid','used','cancelled'])[1 + g % 3],
             timestamptz '2025-01-01 00:00:00+00' + g * interval '31 seconds',
             CASE WHEN g % 3 = 1 THEN timestamptz '2025-01-02 00:00:00+00' + g * interval '31 seconds' END
        FROM generate_series(1::bigint, ${n2}) g`);
    await c.query('VACUUM ANALYZE activity_logs');
    await c.query('VACUUM ANALYZE tickets');
    await c.query(`CREATE TABLE bench_ready (scale int NOT NULL)`);
    await c.query(`INSERT INTO bench_ready VALUES (${scale})`);
  } finally {
    await c.end();
  }
}

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

function runPgDump(dbUrl: string, file: string): Promise<{ ms: number; sizeBytes: number }> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    execFile('pg_dump', ['-Fc', '-f', file, '-d', dbUrl], async (err) => {
      if (err) return reject(err);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      resolve({ ms, sizeBytes: (await stat(file)).size });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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

async function main(): Promise<void> {
  if (process.env.BENCH_CATALOG) return catalogMain(Number(process.env.BENCH_CATALOG));
  await ensureBenchDatabase('tickethub_bench', 1);
  if (process.env.BENCH_PREPARE_ONLY) {
    if (!process.env.BENCH_SKIP_2X) await ensureBenchDatabase('tickethub_bench_2x', 2);
    return;
  }
  const url = urlFor('tickethub_bench');
  if (process.env.BENCH_ENCRYPTION) return benchEncryption(url);
  const work = await mkdtemp(path.join(os.tmpdir(), 'bench-backup-'));
  try {
    const ours: OursResult[] = [];
    const theirs: { ms: number; sizeBytes: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate who goes first so neither always gets the warmer cache.
      const order = i % 2 === 0 ? ['ours', 'pg_dump'] : ['pg_dump', 'ours'];
      for (const who of order) {
        const dir = path.join(work, `${who}-${i}`);
        if (who === 'ours') {
          const r = await runOursChild(url, dir, i === ROUNDS - 1);
          ours.push(r);
          process.stderr.write(`round ${i + 1} ours:    ${(r.ms / 1000).toFixed(2)} s  ${mb(r.sizeBytes)}  peak RSS ${r.maxRssMB.toFixed(0)} MB${r.verifyMs ? `  (+ verify ${(r.verifyMs / 1000).toFixed(2)} s)` : ''}\n`);
        } else {
          const { mkdir } = await import('node:fs/promises');
          await mkdir(dir, { recursive: true });
          const r = await runPgDump(url, path.join(dir, 'bench.dump'));
          theirs.push(r);
          process.stderr.write(`round ${i + 1} pg_dump: ${(r.ms / 1000).toFixed(2)} s  ${mb(r.sizeBytes)}\n`);
        }
        await rm(dir, { recursive: true, force: true });
      }
    }
    const oMs = median(ours.map((r) => r.ms));
    const pMs = median(theirs.map((r) => r.ms));
    const oSize = median(ours.map((r) => r.sizeBytes));
    const pSize = median(theirs.map((r) => r.sizeBytes));
    // The last round also reads the archive back (verification, as every real run does): its
    // peak is reported separately so both numbers are visible.
    const plain = ours.filter((r) => r.verifyMs === undefined);
    const rss = Math.max(...(plain.length ? plain : ours).map((r) => r.maxRssMB));
    const verified = ours.find((r) => r.verifyMs !== undefined);
    const verifyMs = verified?.verifyMs;
    const lines = [
      '',
      `benchmark database: tickethub_bench (${ours[0].rows.toLocaleString('en-US')} rows), ${ROUNDS} rounds, medians`,
      `  ours (tickethub-backup): ${(oMs / 1000).toFixed(2)} s   ${mb(oSize)}   peak RSS ${rss.toFixed(0)} MB   [workers ${process.env.BACKUP_WORKERS ?? 2}, gzip ${process.env.BACKUP_GZIP_LEVEL ?? 3}, chunk ${process.env.BACKUP_CHUNK_MB ?? 64} MB]`,
      `  pg_dump -Fc:             ${(pMs / 1000).toFixed(2)} s   ${mb(pSize)}`,
      `  time ratio ours/pg_dump: ${(oMs / pMs).toFixed(2)}  (target <= 0.75)`,
      `  size ratio ours/pg_dump: ${(oSize / pSize).toFixed(2)}  (target <= 1.10)`,
      `  peak RSS (backup):       ${rss.toFixed(0)} MB  (target <= 200 MB)`,
      ...(verifyMs ? [`  read-back verification of our archive (not in the time above): ${(verifyMs / 1000).toFixed(2)} s, peak RSS of backup + verification ${verified!.maxRssMB.toFixed(0)} MB`] : []),
    ];
    if (!process.env.BENCH_SKIP_2X) {
      await ensureBenchDatabase('tickethub_bench_2x', 2);
      const r2 = await runOursChild(urlFor('tickethub_bench_2x'), path.join(work, 'ours-2x'), false);
      lines.push(`  at 2x data (tickethub_bench_2x, ${r2.rows.toLocaleString('en-US')} rows): ${(r2.ms / 1000).toFixed(2)} s  ${mb(r2.sizeBytes)}  peak RSS ${r2.maxRssMB.toFixed(0)} MB  (target <= 200 MB)`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
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
