/**
 * The benchmark databases, shared by bench:backup, bench:restore, bench:scale and bench:export.
 * Each is built once with server-side SQL (generate_series; no client round trips) and reused while
 * its `bench_ready` marker says it has the right shape and size; a concurrent second caller waits
 * for the first (advisory lock) instead of building it twice.
 *
 * - 'standard': `tickethub_bench`, the benchmark's original database: 2,000,000 activity_logs-like
 *   rows (repetitive text, small jsonb) + 500,000 ticket-like rows, ~630 MB as COPY text. Compresses
 *   well (gzip's level matters little).
 * - 'entropy': `tickethub_bench_entropy`, issue 13's second database: the activity-log shape with
 *   high-entropy text (md5 strings, random ip/uuid/timestamps) and jsonb with md5/random values
 *   (2,000,000 rows) + tickets (500,000 rows with uuid, numeric, bytea). Compresses poorly.
 * - export (ensureExportBenchDb): `tickethub_bench_export`, the real TicketHub schema (migrations)
 *   with demo data in all ten tables and activity_logs filled to 2,000,000 rows: what
 *   /api/admin/backups/export can read.
 *
 * `scale` multiplies the row counts (1 = the sizes above; 2, 4 for scaling; 0.02 for a smoke run).
 * Names: scale 1 -> `tickethub_bench[_entropy]`, 2 -> `..._2x`, 0.25 -> `..._0p25x`.
 * Server: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import pg from 'pg';
import { quoteIdent } from '../lib/backup/catalog/quote-ident';

export const BENCH_SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type BenchKind = 'standard' | 'entropy';
export const BENCH_KINDS: readonly BenchKind[] = ['standard', 'entropy'];

/** Rows per table at scale 1 (both kinds). */
export const BASE_ROWS = { activity_logs: 2_000_000, tickets: 500_000 } as const;

export interface BenchDb {
  kind: BenchKind | 'export';
  name: string;
  url: string;
  scale: number;
  /** Rows in all tables together. */
  rows: number;
  /** True when this call built it (false: reused). */
  created: boolean;
}

/** `url` of database `db` on the bench server. */
export function benchUrl(db: string): string {
  const u = new URL(BENCH_SERVER);
  u.pathname = `/${db}`;
  return u.toString();
}

/** BENCH_SCALE (default 1): a multiplier for the benchmark's sizes, e.g. 0.02 for a quick smoke run. */
export function benchScaleFromEnv(name = 'BENCH_SCALE', dflt = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 64) throw new Error(`${name} must be a number > 0 and <= 64, got ${JSON.stringify(raw)}`);
  return n;
}

function scaleSuffix(scale: number): string {
  return scale === 1 ? '' : `_${String(scale).replace('.', 'p')}x`;
}

/** The database name of `kind` at `scale`. */
export function benchDbName(kind: BenchKind, scale = 1): string {
  return `tickethub_bench${kind === 'entropy' ? '_entropy' : ''}${scaleSuffix(scale)}`;
}

/** Row counts per table for a scale (at least 1 each). */
export function benchRows(scale: number): { activity_logs: number; tickets: number } {
  return { activity_logs: Math.max(1, Math.round(BASE_ROWS.activity_logs * scale)), tickets: Math.max(1, Math.round(BASE_ROWS.tickets * scale)) };
}

// Bump when a kind's SQL changes: older databases are then rebuilt, never silently reused.
const SHAPE = { standard: 'standard-v1', entropy: 'entropy-v1', export: 'export-v1' } as const;

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BENCH_SERVER, application_name: 'tickethub-bench' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Builds database `name` with `build` unless its marker equals `shape`; serialised across
 * processes with an advisory lock on the server's maintenance database.
 */
async function ensure(name: string, shape: string, build: (c: pg.Client) => Promise<void>, legacyScale?: number): Promise<boolean> {
  return withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [`tickethub-bench:${name}`]);
    try {
      if (!(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount) {
        await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
      }
      const c = new pg.Client({ connectionString: benchUrl(name), application_name: 'tickethub-bench' });
      await c.connect();
      try {
        if (await isReady(c, shape, legacyScale)) return false;
        const t0 = Date.now();
        process.stderr.write(`bench: building ${name} (${shape}; once, reused afterwards) ...\n`);
        await c.query(`DROP TABLE IF EXISTS bench_ready`);
        await build(c);
        await c.query(`CREATE TABLE bench_ready (scale numeric NOT NULL, shape text)`);
        await c.query(`INSERT INTO bench_ready VALUES (1, $1)`, [shape]);
        process.stderr.write(`bench: built ${name} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        return true;
      } finally {
        await c.end();
      }
    } finally {
      await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [`tickethub-bench:${name}`]);
    }
  });
}

async function isReady(c: pg.Client, shape: string, legacyScale?: number): Promise<boolean> {
  if (!(await c.query(`SELECT to_regclass('public.bench_ready') IS NOT NULL AS ok`)).rows[0].ok) return false;
  const cols = (await c.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'bench_ready'`)).rows.map((r) => r.column_name);
  if (!cols.includes('shape')) {
    // A tickethub_bench / tickethub_bench_2x made by the earlier bench-backup.ts (marker: scale int
    // only) has exactly the 'standard' shape at that scale: reuse it.
    return legacyScale !== undefined && Number((await c.query('SELECT scale FROM bench_ready')).rows[0]?.scale) === legacyScale;
  }
  return (await c.query('SELECT shape FROM bench_ready')).rows[0]?.shape === shape;
}

async function buildStandard(c: pg.Client, n: { activity_logs: number; tickets: number }): Promise<void> {
  await c.query(`DROP TABLE IF EXISTS activity_logs, tickets CASCADE`);
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
      FROM generate_series(1::bigint, ${n.activity_logs}) g`);
  await c.query(`INSERT INTO tickets (receipt_id, trip_id, telegram_user_id, seat_number, passenger_name, ticket_code, status, issued_at, used_at)
    SELECT g / 2 + 1, g % 4001 + 1, g % 99991 + 1, 1 + g % 53,
           (ARRAY['አበበ በቀለ','Tigist Haile','ሰላም ታደሰ','Dawit Mekonnen','ማርታ ገብሬ','Yonas Alemu'])[1 + g % 6] || ' ' || (g % 977),
           'TH-' || upper(lpad(to_hex(g), 10, '0')),
           (ARRAY['valid','used','cancelled'])[1 + g % 3],
           timestamptz '2025-01-01 00:00:00+00' + g * interval '31 seconds',
           CASE WHEN g % 3 = 1 THEN timestamptz '2025-01-02 00:00:00+00' + g * interval '31 seconds' END
      FROM generate_series(1::bigint, ${n.tickets}) g`);
  await c.query('VACUUM ANALYZE activity_logs');
  await c.query('VACUUM ANALYZE tickets');
}

/**
 * Issue 13's second database: every text value carries md5/random entropy, jsonb holds md5 strings
 * and random numbers, tickets carry uuid, numeric and bytea. (setseed makes it repeatable.)
 */
async function buildEntropy(c: pg.Client, n: { activity_logs: number; tickets: number }): Promise<void> {
  await c.query(`DROP TABLE IF EXISTS activity_logs, tickets CASCADE`);
  await c.query(`CREATE TABLE activity_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, action text NOT NULL, entity_type text NOT NULL, entity_id text,
    description text NOT NULL DEFAULT '', ip_address inet, user_agent text, metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    admin_user_id uuid, created_at timestamptz NOT NULL DEFAULT now())`);
  await c.query(`CREATE TABLE tickets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ticket_uuid uuid NOT NULL, receipt_id bigint NOT NULL, passenger_name text NOT NULL,
    price_etb numeric(12,2) NOT NULL, exchange_rate numeric NOT NULL, qr_payload bytea NOT NULL, status text NOT NULL,
    issued_at timestamptz NOT NULL)`);
  await c.query(`SELECT setseed(0.13)`);
  await c.query(`INSERT INTO activity_logs (action, entity_type, entity_id, description, ip_address, user_agent, metadata, admin_user_id, created_at)
    SELECT (ARRAY['TICKET_SOLD','RECEIPT_APPROVED','RECEIPT_REJECTED','ADMIN_SIGN_IN','TRIP_CREATED','AUTOMATED_BACKUP'])[1 + (random() * 5)::int],
           (ARRAY['ticket','receipt','admin_user','trip','system'])[1 + (random() * 4)::int],
           md5(random()::text),
           md5(random()::text) || ' ' || md5(random()::text),
           ('10.' || (random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int)::inet,
           'agent/' || substr(md5(random()::text), 1, 8),
           jsonb_build_object('amount_etb', round((random() * 100000)::numeric, 2), 'ref', md5(random()::text), 'seats', (random() * 9)::int),
           gen_random_uuid(),
           timestamptz '2025-01-01 00:00:00+00' + random() * interval '365 days'
      FROM generate_series(1::bigint, ${n.activity_logs}) g`);
  await c.query(`INSERT INTO tickets (ticket_uuid, receipt_id, passenger_name, price_etb, exchange_rate, qr_payload, status, issued_at)
    SELECT gen_random_uuid(), (random() * 1e9)::bigint, substr(md5(random()::text), 1, 24),
           round((random() * 50000)::numeric, 2), (random() * 200)::numeric,
           decode(md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex'),
           (ARRAY['valid','used','cancelled'])[1 + (random() * 2)::int],
           timestamptz '2025-01-01 00:00:00+00' + random() * interval '365 days'
      FROM generate_series(1::bigint, ${n.tickets}) g`);
  await c.query('VACUUM ANALYZE activity_logs');
  await c.query('VACUUM ANALYZE tickets');
}

/** Creates (once) and returns the benchmark database of `kind` at `scale`. */
export async function ensureBenchDb(kind: BenchKind, scale = 1): Promise<BenchDb> {
  const name = benchDbName(kind, scale);
  const n = benchRows(scale);
  const shape = `${SHAPE[kind]}:${n.activity_logs}+${n.tickets}`;
  // The original marker (scale int) is accepted for 'standard' at scales 1 and 2 only, where the
  // older bench-backup.ts built exactly these sizes under these names.
  const legacy = kind === 'standard' && (scale === 1 || scale === 2) ? scale : undefined;
  const created = await ensure(name, shape, (c) => (kind === 'entropy' ? buildEntropy(c, n) : buildStandard(c, n)), legacy);
  return { kind, name, url: benchUrl(name), scale, rows: n.activity_logs + n.tickets, created };
}

export interface BenchTableStats {
  table: string;
  rows: number;
  /** pg_table_size: heap + TOAST. */
  heapBytes: number;
}

/** The user tables of `url` (excluding bench_ready) with exact row counts and sizes. */
export async function benchDbStats(url: string): Promise<{ tables: BenchTableStats[]; rows: number; heapBytes: number }> {
  const c = new pg.Client({ connectionString: url, application_name: 'tickethub-bench' });
  await c.connect();
  try {
    const { rows } = await c.query<{ table: string; heap: string }>(
      `SELECT format('%I.%I', n.nspname, cl.relname) AS table, pg_table_size(cl.oid) AS heap
         FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE cl.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND cl.relname <> 'bench_ready'
        ORDER BY 1`,
    );
    const tables: BenchTableStats[] = [];
    for (const r of rows) {
      const count = Number((await c.query(`SELECT count(*) AS n FROM ${r.table}`)).rows[0].n);
      tables.push({ table: r.table, rows: count, heapBytes: Number(r.heap) });
    }
    return { tables, rows: tables.reduce((s, t) => s + t.rows, 0), heapBytes: tables.reduce((s, t) => s + t.heapBytes, 0) };
  } finally {
    await c.end();
  }
}

/** Rows in activity_logs of the export database at scale 1. */
export const EXPORT_ACTIVITY_ROWS = 2_000_000;

/**
 * The TicketHub-schema database for bench:export: migrations, demo data (seed scale 5000) in all
 * ten tables, then activity_logs topped up to EXPORT_ACTIVITY_ROWS × scale rows in SQL.
 */
export async function ensureExportBenchDb(scale = 1): Promise<BenchDb> {
  const name = `tickethub_bench_export${scaleSuffix(scale)}`;
  const target = Math.max(1, Math.round(EXPORT_ACTIVITY_ROWS * scale));
  const seedScale = Math.max(100, Math.min(5000, Math.round(target / 400)));
  const shape = `${SHAPE.export}:${target}:${seedScale}`;
  const created = await ensure(name, shape, async (c) => {
    const { migrate } = await import('../lib/db/migrate');
    const { seedDemoData } = await import('../lib/seed/seed-demo-data');
    await migrate(benchUrl(name));
    await seedDemoData(c, { scale: seedScale, force: true, baseDate: '2026-01-15' });
    const have = Number((await c.query('SELECT count(*) AS n FROM activity_logs')).rows[0].n);
    const add = target - have;
    if (add > 0) {
      await c.query(`INSERT INTO activity_logs (action, entity_type, entity_id, description, ip_address, user_agent, metadata, admin_user_id, created_at)
        SELECT (ARRAY['TICKET_SOLD','RECEIPT_APPROVED','RECEIPT_REJECTED','ADMIN_SIGN_IN','TRIP_CREATED','AUTOMATED_BACKUP'])[1 + g % 6],
               (ARRAY['ticket','receipt','admin_user','trip','system'])[1 + g % 5],
               (g * 7919 % 1000003)::text,
               'ገዢ ' || (g % 9973) || ' bought seat ' || (g % 53) || ' on trip ' || (g % 4001) || ' ref ' || substr(md5(g::text), 1, 16),
               '10.' || (g % 256) || '.' || (g * 13 % 256) || '.' || (g * 29 % 256),
               (ARRAY['Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36','TelegramBot (like TwitterBot)','backup-cron-job'])[1 + g % 3],
               jsonb_build_object('amount_etb', (g % 5000) + 0.5, 'seats', 1 + g % 4, 'method', (ARRAY['telebirr','cbe','awash'])[1 + g % 3], 'ref', md5((g * 31)::text)),
               NULL,
               timestamptz '2025-01-01 00:00:00+00' + g * interval '7 seconds' + (g % 1000) * interval '1 millisecond'
          FROM generate_series(1::bigint, ${add}) g`);
    }
    await c.query('VACUUM ANALYZE');
  });
  const stats = await benchDbStats(benchUrl(name));
  return { kind: 'export', name, url: benchUrl(name), scale, rows: stats.rows, created };
}

/** Drops a benchmark database (e.g. a smoke run's small one). */
export async function dropBenchDb(name: string): Promise<void> {
  if (!name.startsWith('tickethub_bench')) throw new Error(`refusing to drop ${name}: not a benchmark database`);
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}
