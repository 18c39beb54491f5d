import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { runBackup } from '../../lib/backup/run-backup';
import { GOOD_RUN_SQL, recoverStaleRuns, STALE_RUN_ERROR } from '../../lib/backup/backup-runs';
import { listBackups, readManifest } from '../../lib/backup/list-backups';
import { reindex, MISSING_FROM_STORAGE } from '../../lib/backup/reindex';
import { BACKUP_ID_RE } from '../../lib/backup/manifest';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { catalogFingerprint, downloadArchive, gunzipIntoPsql, pgDumpUsable, schemaDump, tableHashes } from './backup-test-helpers';
import { chinookSqlPath } from '../helpers/fixtures';

const execFileAsync = promisify(execFile);
const CHINOOK = chinookSqlPath();

let tmp: string;
const dbs: TestDatabase[] = [];
async function newDb(migrate = false): Promise<TestDatabase> {
  const d = await createTestDatabase({ migrate, prefix: 'bk' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'run-backup-test-'));
});
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

interface SourceState {
  hashes: Record<string, { rows: number; hash: string }>;
  /** pg_dump --schema-only (PG15) or the catalog fingerprint (newer servers), incl. sequence values. */
  schema: string | string[];
}

/** The source's rows and schema, taken BEFORE the backup (which then logs into activity_logs). */
async function captureSource(url: string): Promise<SourceState> {
  return { hashes: await tableHashes(url), schema: (await pgDumpUsable(url)) ? await schemaDump(url) : await catalogFingerprint(url) };
}

/** Restores a backup with nothing but gunzip | psql into a new empty database and compares it to the source. */
async function expectRestoresExactly(storage: StorageBackend, id: string, source: SourceState, opts: { emptyTables?: string[] } = {}) {
  const file = path.join(tmp, `${id}.sql.gz`);
  await downloadArchive(storage, id, file);
  const target = await newDb(false);
  await gunzipIntoPsql(file, target.url);
  const restored = await tableHashes(target.url);
  const expected = { ...source.hashes };
  // Tables whose data the backup excludes come back empty.
  for (const t of opts.emptyTables ?? []) expected[t] = { rows: 0, hash: '' };
  expect(restored).toEqual(expected);
  if (typeof source.schema === 'string') expect(await schemaDump(target.url)).toBe(source.schema);
  else expect(await catalogFingerprint(target.url)).toEqual(source.schema);
  return target;
}

describe('runBackup on the TicketHub database', () => {
  let app: TestDatabase;
  let storage: StorageBackend;

  beforeAll(async () => {
    app = await newDb(true);
    await withClient(app.url, async (c) => {
      await seedDemoData(c, { scale: 2000 });
      // Text the seed may not have: every escape COPY must get right, and Amharic.
      await c.query(`INSERT INTO public.telegram_channels (chat_id, title, chat_type, purpose)
                     VALUES (-1001, E'ማስታወቂያ\\tትር\\nምሽት \\\\ back', 'channel', 'announcements'), (-1002, 'ሰላም ዓለም 🚌', 'group', 'support')`);
    });
    storage = openStorage(path.join(tmp, 'store-app'));
  });
  afterAll(async () => {
    await storage.close();
  });

  it('backs up every table in one snapshot and restores exactly with gunzip | psql; records the run and an activity row', async () => {
    const src = await captureSource(app.url);
    const before = src.hashes;
    const progress: string[] = [];
    const r = await runBackup({ databaseUrl: app.url, storage, trigger: 'manual', description: 'before the migration', workers: 2, chunkBytes: 64 * 1024, onProgress: (p) => progress.push(p.phase) });
    expect(r.status).toBe('succeeded');
    expect(r.id).toMatch(BACKUP_ID_RE);
    expect(r.verification?.ok).toBe(true);
    // The check after writing re-hashes the stored bytes (no decompression); `verify` is the full check.
    expect(r.verification).toMatchObject({ scope: 'stored-bytes', proved: 'stored bytes identical to what was written (SHA-256 of the archive)', key: `${r.id}.sql.gz`, sizeBytes: r.sizeBytes, sha256: r.sha256, encrypted: false });
    expect(progress).toContain('verifying');
    expect(progress).toContain('data');
    expect(progress.at(-1)).toBe('done');

    const m = await readManifest(storage, r.id);
    expect(m.checkedAfterWrite).toEqual({ scope: 'stored-bytes', checkedAt: r.verification!.checkedAt });
    // Every table of the schema, found from the catalogs (not a list): the ten TicketHub tables and more.
    for (const t of ['admin_users', 'telegram_users', 'trips', 'receipts', 'tickets', 'activity_logs', 'approvals', 'invitations', 'telegram_channels', 'notifications']) {
      expect(m.tables.find((x) => x.name === t)?.rows, t).toBe(before[`public.${t}`].rows);
    }
    expect(m.tables.find((x) => x.name === 'backup_runs')?.dataExcluded).toBe(true);
    expect(m.totals.rows).toBe(r.rows);
    // The small chunk size split the big tables into several ctid-range members.
    expect(m.entries.filter((e) => e.section === 'table-data' && e.name === 'activity_logs').length).toBeGreaterThan(1);
    expect(m.entries[0].section).toBe('header');
    const order = ['header', 'pre-data', 'table-data', 'sequence-set', 'post-data'];
    const sections = m.entries.map((e) => order.indexOf(e.section));
    expect([...sections].sort((a, b) => a - b)).toEqual(sections);

    await expectRestoresExactly(storage, r.id, src, { emptyTables: ['public.backup_runs'] });

    const run = await withClient(app.url, async (c) => (await c.query('SELECT *, row_count::int AS row_count, size_bytes::int AS size_bytes FROM public.backup_runs WHERE id = $1', [r.id])).rows[0]);
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'manual', description: 'before the migration', row_count: r.rows, table_count: r.tables, size_bytes: r.sizeBytes, sha256: r.sha256, error: null });
    expect(run.verified_at).not.toBeNull();
    expect(run.verification).toMatchObject({ ok: true, scope: 'stored-bytes' });
    expect(run.manifest.id).toBe(r.id);
    const log = await withClient(app.url, async (c) => (await c.query(`SELECT * FROM public.activity_logs WHERE entity_id = $1`, [r.id])).rows);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ action: 'MANUAL_BACKUP', entity_type: 'system', user_agent: 'admin-dashboard' });
    expect(log[0].description).toMatch(new RegExp(`^Manual backup: ${r.rows} records in ${r.tables} tables, [0-9.]+ (KB|MB)$`));
    expect(log[0].metadata).toMatchObject({ rows: r.rows, tables: r.tables, sizeBytes: r.sizeBytes });
  });

  it('a cron backup logs AUTOMATED_BACKUP from system-automation; list shows it; reindex rebuilds backup_runs from storage', async () => {
    const r = await runBackup({ databaseUrl: app.url, storage, trigger: 'cron' });
    const log = await withClient(app.url, async (c) => (await c.query(`SELECT * FROM public.activity_logs WHERE entity_id = $1`, [r.id])).rows[0]);
    expect(log).toMatchObject({ action: 'AUTOMATED_BACKUP', ip_address: 'system-automation', user_agent: 'backup-cron-job' });
    expect(log.description).toMatch(/^Automated daily backup: \d+ records in \d+ tables, /);

    const listed = await listBackups(storage);
    expect(listed.map((b) => b.id)).toContain(r.id);
    expect(listed.every((b) => b.status === 'succeeded')).toBe(true);

    // Lose the bookkeeping, and pretend one recorded backup vanished from storage.
    await withClient(app.url, async (c) => {
      await c.query('DELETE FROM public.backup_runs');
      await c.query(`INSERT INTO public.backup_runs (id, trigger, status, finished_at) VALUES ('20200101T000000Z-gone0000', 'cron', 'succeeded', now())`);
    });
    const res = await reindex(storage, app.url);
    expect(res.upserted.sort()).toEqual(listed.map((b) => b.id).sort());
    expect(res.missing).toEqual(['20200101T000000Z-gone0000']);
    const rows = await withClient(app.url, async (c) => (await c.query('SELECT id, status, error, row_count::int FROM public.backup_runs ORDER BY id')).rows);
    expect(rows.find((x) => x.id === r.id)).toMatchObject({ status: 'succeeded', row_count: r.rows });
    expect(rows.find((x) => x.id === '20200101T000000Z-gone0000')).toMatchObject({ status: 'failed', error: MISSING_FROM_STORAGE });
  });

  it('a backup without the check after writing (--no-verify) is recorded succeeded but NOT verified, and is not a good backup until checked', async () => {
    const r = await runBackup({ databaseUrl: app.url, storage, trigger: 'cli', verify: false });
    expect(r.status).toBe('succeeded');
    expect(r.verification).toBeNull();
    const row = await withClient(app.url, async (c) =>
      (await c.query(`SELECT verified_at, verification, ${GOOD_RUN_SQL} AS good FROM public.backup_runs r WHERE id = $1`, [r.id])).rows[0],
    );
    expect(row).toMatchObject({ verified_at: null, verification: null, good: false });
  });

  it('refuses a second backup while one runs, naming the running one; a stale running row is marked failed', async () => {
    let inData!: () => void;
    const dataStarted = new Promise<void>((r) => (inData = r));
    const first = runBackup({ databaseUrl: app.url, storage, trigger: 'manual', workers: 1, chunkBytes: 8192, onProgress: (p) => p.phase === 'data' && inData() });
    await dataStarted;
    const second = runBackup({ databaseUrl: app.url, storage, trigger: 'cron' });
    await expect(second).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/^a backup is already running \(id \d{8}T\d{6}Z-[0-9a-z]+, started \d{4}-\d\d-\d\dT/) });
    const r1 = await first;
    expect(r1.status).toBe('succeeded');

    // A process that died mid-backup left its row 'running'; its lock is gone with its session.
    await withClient(app.url, (c) => c.query(`INSERT INTO public.backup_runs (id, trigger, status) VALUES ('20260101T000000Z-dead0000', 'cron', 'running')`));
    const pool = new pg.Pool({ connectionString: app.url });
    try {
      expect(await recoverStaleRuns(pool)).toEqual(['20260101T000000Z-dead0000']);
    } finally {
      await pool.end();
    }
    const row = await withClient(app.url, async (c) => (await c.query(`SELECT status, error, finished_at FROM public.backup_runs WHERE id = '20260101T000000Z-dead0000'`)).rows[0]);
    expect(row).toMatchObject({ status: 'failed', error: STALE_RUN_ERROR });
    expect(row.finished_at).not.toBeNull();
  });
});

describe('runBackup on a foreign database (Chinook)', () => {
  it('restores exactly and records nothing but the files', async () => {
    const chinook = await newDb(false);
    await execFileAsync('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', chinook.url, '-f', CHINOOK], { maxBuffer: 64 << 20 });
    const src = await captureSource(chinook.url);
    const before = src.hashes;
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(11);
    const dir = path.join(tmp, 'store-chinook');
    const storage = openStorage(dir);
    // Spool directories a killed process left behind are cleaned up once old; recent ones stay.
    const spool = path.join(tmp, 'spool');
    const stale = path.join(spool, 'tickethub-backup-20200101T000000Z-old00000-abc');
    const recent = path.join(spool, `tickethub-backup-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-new00000-abc`);
    await mkdir(stale, { recursive: true });
    await mkdir(recent, { recursive: true });
    process.env.BACKUP_SPOOL_DIR = spool;
    try {
      const r = await runBackup({ databaseUrl: chinook.url, storage, trigger: 'cli' });
      expect((await readdir(spool)).sort()).toEqual([path.basename(recent)]);
      expect(r.rows).toBe(Object.values(before).reduce((s, t) => s + t.rows, 0));
      expect((await readdir(dir)).sort()).toEqual([`${r.id}.manifest.json`, `${r.id}.sql.gz`]);
      await expectRestoresExactly(storage, r.id, src);
    } finally {
      delete process.env.BACKUP_SPOOL_DIR;
      await storage.close();
    }
  });
});

describe('runBackup data paths: partitions, generated columns, materialized views, odd names, zero-column tables', () => {
  it('copies leaf partitions, leaves generated columns to the server, refreshes materialized views', async () => {
    const db = await newDb(false);
    await withClient(db.url, async (c) => {
      await c.query(`CREATE TABLE public.sales (id bigserial, sold_on date NOT NULL, amount numeric(12,2) NOT NULL,
                       amount_with_vat numeric(12,2) GENERATED ALWAYS AS (amount * 1.15) STORED, PRIMARY KEY (id, sold_on)) PARTITION BY RANGE (sold_on)`);
      await c.query(`CREATE TABLE public.sales_2025 PARTITION OF public.sales FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`);
      await c.query(`CREATE TABLE public.sales_2026 PARTITION OF public.sales FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`);
      await c.query(`INSERT INTO public.sales (sold_on, amount) SELECT date '2025-01-01' + (g % 700), g / 7.0 FROM generate_series(1, 20000) g`);
      await c.query(`CREATE MATERIALIZED VIEW public.sales_by_year AS SELECT date_part('year', sold_on) AS y, sum(amount_with_vat) AS total FROM public.sales GROUP BY 1`);
      await c.query(`CREATE TABLE public."Odd ""Name"" ቲኬት" ("Id" int PRIMARY KEY, "the text" text, arr int[], js jsonb, ts timestamptz, f float8, b bytea)`);
      await c.query(`INSERT INTO public."Odd ""Name"" ቲኬት" SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE E'line\\nnext\\ttab \\\\ ' || g END, ARRAY[g, g + 1], jsonb_build_object('k', g, 'ስም', 'እሴት'),
                       timestamptz '2025-06-01 12:00:00+03' + g * interval '1 minute', g / 3.0, decode(md5(g::text), 'hex') FROM generate_series(1, 3000) g`);
      await c.query(`CREATE TABLE public.empty_cols ()`);
      await c.query(`INSERT INTO public.empty_cols DEFAULT VALUES`);
      await c.query(`INSERT INTO public.empty_cols DEFAULT VALUES`);
    });
    const src = await captureSource(db.url);
    const storage = openStorage(path.join(tmp, 'store-kinds'));
    try {
      const r = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', chunkBytes: 64 * 1024 });
      const m = await readManifest(storage, r.id);
      expect(m.tables.map((t) => t.name).sort()).toEqual(['Odd "Name" ቲኬት', 'empty_cols', 'sales_2025', 'sales_2026'].sort());
      expect(m.tables.find((t) => t.name === 'sales_2025')?.columns).toEqual(['id', 'sold_on', 'amount']);
      const target = await expectRestoresExactly(storage, r.id, src);
      const mv = await withClient(target.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM public.sales_by_year')).rows[0].n);
      expect(mv).toBe(2);
    } finally {
      await storage.close();
    }
  });
});

describe('runBackup with several schemas (BACKUP_SCHEMAS)', () => {
  it('backs up the configured schemas only, and they restore exactly', async () => {
    const db = await newDb(false);
    await withClient(db.url, async (c) => {
      await c.query(`CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL)`);
      await c.query(`CREATE SCHEMA billing`);
      await c.query(`CREATE TABLE billing.invoices (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES public.customers (id), total numeric(10,2))`);
      await c.query(`CREATE SCHEMA scratch`);
      await c.query(`CREATE TABLE scratch.junk (x int)`);
      await c.query(`INSERT INTO public.customers SELECT g, 'ደንበኛ ' || g FROM generate_series(1, 500) g`);
      await c.query(`INSERT INTO billing.invoices SELECT g, 1 + g % 500, g * 1.5 FROM generate_series(1, 2000) g`);
      await c.query(`INSERT INTO scratch.junk SELECT g FROM generate_series(1, 10) g`);
    });
    const before = await tableHashes(db.url, ['public', 'billing']);
    const saved = process.env.BACKUP_SCHEMAS;
    process.env.BACKUP_SCHEMAS = 'public, billing';
    const storage = openStorage(path.join(tmp, 'store-schemas'));
    try {
      const r = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
      const m = await readManifest(storage, r.id);
      expect(m.source.schemas).toEqual(['public', 'billing']);
      expect(m.tables.map((t) => `${t.schema}.${t.name}`).sort()).toEqual(['billing.invoices', 'public.customers']);
      const file = path.join(tmp, `${r.id}.sql.gz`);
      await downloadArchive(storage, r.id, file);
      const target = await newDb(false);
      await gunzipIntoPsql(file, target.url);
      expect(await tableHashes(target.url, ['public', 'billing', 'scratch'])).toEqual(before);
    } finally {
      if (saved === undefined) delete process.env.BACKUP_SCHEMAS;
      else process.env.BACKUP_SCHEMAS = saved;
      await storage.close();
    }
  });
});

describe('consistency: one snapshot while money moves', () => {
  it('restores to a state where total balance and the ledger agree', async () => {
    const bank = await newDb(false);
    const ACCOUNTS = 20000;
    await withClient(bank.url, async (c) => {
      await c.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, pad text NOT NULL)`);
      await c.query(`CREATE TABLE ledger (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL, amount bigint NOT NULL, note text NOT NULL)`);
      await c.query(`CREATE TABLE filler (id int PRIMARY KEY, body text NOT NULL)`);
      await c.query(`INSERT INTO accounts SELECT g, 1000, repeat(md5(g::text), 4) FROM generate_series(1, ${ACCOUNTS}) g`);
      await c.query(`INSERT INTO filler SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 150000) g`);
    });
    let stop = false;
    let transfers = 0;
    const mover = async (seed: number) => {
      const c = new pg.Client({ connectionString: bank.url });
      await c.connect();
      let x = seed;
      try {
        while (!stop) {
          x = (x * 1103515245 + 12345) % 2147483648;
          const a = 1 + (x % ACCOUNTS);
          const b = 1 + ((x >> 8) % ACCOUNTS);
          if (a === b) continue;
          const amount = 1 + (x % 50);
          await c.query('BEGIN');
          await c.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [a, amount]);
          await c.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [b, amount]);
          await c.query(`INSERT INTO ledger (from_id, to_id, amount, note) VALUES ($1, $2, $3, 'transfer')`, [a, b, amount]);
          await c.query('COMMIT');
          transfers++;
        }
      } finally {
        await c.end();
      }
    };
    const movers = [1, 2, 3].map((s) => mover(s * 7777));
    await new Promise((r) => setTimeout(r, 300));
    const startTransfers = transfers;
    const storage = openStorage(path.join(tmp, 'store-bank'));
    let r;
    try {
      // Small chunks: accounts (~2.5 MB) and filler split into many ctid ranges read by two workers.
      r = await runBackup({ databaseUrl: bank.url, storage, trigger: 'cli', workers: 2, chunkBytes: 256 * 1024 });
    } finally {
      stop = true;
      await Promise.all(movers);
    }
    expect(transfers - startTransfers).toBeGreaterThan(10); // money really moved during the backup
    const m = await readManifest(storage, r.id);
    expect(m.entries.filter((e) => e.name === 'accounts' && e.section === 'table-data').length).toBeGreaterThan(3);

    const file = path.join(tmp, 'bank.sql.gz');
    await downloadArchive(storage, r.id, file);
    await storage.close();
    const target = await newDb(false);
    await gunzipIntoPsql(file, target.url);
    await withClient(target.url, async (c) => {
      const total = (await c.query('SELECT count(*)::int AS n, sum(balance)::int AS s FROM accounts')).rows[0];
      expect(total).toEqual({ n: ACCOUNTS, s: ACCOUNTS * 1000 });
      const ledgerRows = (await c.query('SELECT count(*)::int AS n FROM ledger')).rows[0].n;
      expect(ledgerRows).toBeGreaterThan(0);
      const mismatched = await c.query(`
        SELECT a.id FROM accounts a
          LEFT JOIN (SELECT from_id AS id, sum(amount) AS s FROM ledger GROUP BY 1) o ON o.id = a.id
          LEFT JOIN (SELECT to_id AS id, sum(amount) AS s FROM ledger GROUP BY 1) i ON i.id = a.id
         WHERE a.balance <> 1000 - coalesce(o.s, 0) + coalesce(i.s, 0)`);
      expect(mismatched.rowCount).toBe(0);
    });
  });
});
