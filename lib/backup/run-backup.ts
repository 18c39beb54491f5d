import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { logActivity } from '../activity/log-activity';
import { appliedMigrationLevel } from '../db/migrate';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { APP_VERSION } from '../version';
import type { Recipient } from 'age-encryption';
import { ArchiveWriter, SMALL_MEMBER_BYTES } from './archive-writer';
import type { MemberInfo } from './archive-writer';
import { backupIdTime, newBackupId } from './backup-id';
import {
  BOOKKEEPING_TABLES,
  currentRun,
  failStaleRuns,
  hasBackupRuns,
  insertRunningRun,
  markRunFailed,
  markRunSucceeded,
  releaseBackupLock,
  tryBackupLock,
} from './backup-runs';
import { dumpSchema } from './catalog/dump-schema';
import { SEARCH_PATH_WARNING } from './catalog/search-path';
import { dumpLargeObjects } from './catalog/kinds/large-objects';
import { countLockedObjects } from './lock-budget';
import { FINGERPRINT_SIDE_LOCKS, HELPER_CHUNKS_PER_TRANSACTION, renewSnapshot } from './worker-locks';
import { databaseSettingsWarning, tablespacesWarning } from './catalog/database-settings';
import { describeExternal, externalWarning } from './catalog/external-deps';
import { outsideDependents } from './restore/target-catalog';
import { schemaFingerprint } from './catalog/schema-fingerprint';
import { columnSettings } from './catalog/column-settings';
import { sequenceValueEntries } from './catalog/sequence-values';
import { referencedDataMode, referencedTables } from './catalog/referenced-data';
import type { DumpObject, TableToCopy } from './catalog/dump-schema';
import type { ChunkResult, DataChunk } from './copy-chunk';
import { COPY_BATCH_TABLES, copyBatch, copyChunk } from './copy-chunk';
import { qualifiedName } from './catalog/quote-ident';
import { archiveKey, buildManifest, contentShaOf, encryptedArchiveKey, GROUP_RAW_BYTES, headerSql, manifestChunks, manifestKey, storedSizeBytes } from './manifest';
import { sealArchive } from './encryption/seal-archive';
import { assertNotTransactionPoolerUrl, assertSessionConnection } from './session-pooler';
import { watchControlSession } from './control-session';
import { CLEANUP_PENDING, removeLeftovers } from './leftovers';
import { signingKeyFromEnv, signManifest } from './manifest-signature';
import { copyOutputSettingsSql } from './session-settings';
import type { Manifest, ManifestTable } from './manifest';
import { readBackCheck } from './read-back';
import { checkStoredArchive } from './stored-check';
import type { StoredArchiveCheck } from './stored-check';
import { bothProgress, progressRecorder } from './progress-recorder';
import type { BackupProgress } from './backup-progress';

/** 'schedule': the in-process scheduler or run-scheduled; 'cron': the HTTP cron route. */
export type BackupTrigger = 'cron' | 'schedule' | 'manual' | 'cli';

export type { BackupProgress } from './backup-progress';

export interface BackupOptions {
  /** postgres:// URL of the database to back up. */
  databaseUrl: string;
  storage: StorageBackend;
  trigger: BackupTrigger;
  /** admin_users.id of who asked (manual), or null. */
  triggeredBy?: string | null;
  description?: string;
  /** Schemas to back up; default BACKUP_SCHEMAS (comma list) or ['public']. */
  schemas?: string[];
  /** 'schema.table' names whose rows are left out (definition kept); default BOOKKEEPING_TABLES. */
  excludeTableData?: string[];
  /** Parallel COPY connections on the one snapshot; default BACKUP_WORKERS or 2. */
  workers?: number;
  /** Heap bytes per ctid-range chunk of a large table; default BACKUP_CHUNK_MB or 64 MB (0: never split). */
  chunkBytes?: number;
  /**
   * Read the stored archive back before calling the backup succeeded (default true): its bytes must
   * be identical to what was written (size and SHA-256, stored-check.ts). No decompression: the
   * members' content is checked by `verify` and drills.
   */
  verify?: boolean;
  onProgress?: (p: BackupProgress) => void;
  /** Aborts the run (it then fails with code 'aborted' and leaves nothing in storage). */
  signal?: AbortSignal;
  /** age recipients to encrypt the archive to; default BACKUP_ENCRYPTION_RECIPIENTS (null/unset: not encrypted). */
  encryptionRecipients?: (string | Recipient)[] | null;
}

export interface BackupResult {
  id: string;
  status: 'succeeded';
  /** Where the archive is, e.g. 'file:///var/backups/2026...sql.gz' or 's3://bucket/p/2026...sql.gz'. */
  location: string;
  tables: number;
  rows: number;
  /** Bytes of the stored archive file (the ciphertext when encrypted: storedSizeBytes). */
  sizeBytes: number;
  durationMs: number;
  sha256: string;
  manifest: Manifest;
  /**
   * The check after writing (null with verify: false): the stored archive read back, same size and
   * SHA-256 as written (stored-check.ts). The full decompress-and-check is `verify`.
   */
  verification: StoredArchiveCheck | null;
  /** Problems that did not make the backup fail (e.g. it could not be recorded in backup_runs). */
  warnings?: string[];
}

/** Tuning knobs, measured with `npm run bench:backup` on a 2-core machine (see scripts/bench-backup.ts). */
export const BACKUP_DEFAULTS = {
  workers: 2,
  /**
   * gzip level 3: on COPY text of typical app tables it is ~2× faster than the default 6 and only
   * a few percent larger; compression, not PostgreSQL, is the bottleneck of a backup.
   */
  gzipLevel: 3,
  /** Heap bytes per ctid-range chunk: big enough to amortise a query, small enough to parallelise. */
  chunkBytes: 64 * 1024 * 1024,
  /** Compressed bytes a finished chunk may keep in memory before spooling to a temp file. */
  spoolMemory: 1024 * 1024,
  /** How long to wait for ACCESS SHARE locks (a concurrent ALTER TABLE) before giving up. */
  lockTimeout: '60s',
};

function envSchemas(): string[] {
  const s = (process.env.BACKUP_SCHEMAS ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return s.length ? s : ['public'];
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new AppError('config', `${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
}

/** A whole number from min to max (BACKUP_WORKERS=99 or BACKUP_GZIP_LEVEL=12 is refused, not clamped). */
function envRange(name: string, fallback: number, min: number, max: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  if (!/^[0-9]+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new AppError('config', `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return Number(v);
}

import { formatBytes } from './format-bytes';
export { formatBytes };

/** The database name in a URL, for messages (never the password). */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}/${decodeURIComponent(u.pathname.slice(1)) || u.username}`;
  } catch {
    throw new AppError('config', 'the database URL is not a valid postgres:// URL');
  }
}

/** The first error each connection reported by itself (e.g. terminated between two queries). */
const connectionErrors = new WeakMap<pg.Client, Error>();

/**
 * The cause to report for a query that failed on `client`: when the connection had already failed
 * between queries, pg refuses the next one with "Client has encountered a connection error and is
 * not queryable", and the real cause (e.g. 57P01 terminating connection) is the error it reported then.
 */
function queryFailureCause(client: pg.Client, err: unknown): unknown {
  const earlier = connectionErrors.get(client);
  return earlier && /not queryable/.test((err as Error | undefined)?.message ?? '') ? earlier : err;
}

async function connect(url: string, role: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: `tickethub-backup ${role}`, keepAlive: true, connectionTimeoutMillis: 15_000 });
  // A dropped connection must fail the query in flight, not crash the process; remember why.
  client.on('error', (err) => {
    if (!connectionErrors.has(client)) connectionErrors.set(client, err);
  });
  try {
    await client.connect();
    // search_path '' (as pg_dump): a database's or role's search_path (ALTER DATABASE/ROLE ... SET)
    // must change nothing we read. reg* values (regclass, regtype, regproc...) print schema-qualified
    // only when their object is not visible on the path: printed under 'app, public' they came out
    // bare and restored (search_path '') as an error or as ANOTHER object of the same name in
    // pg_catalog; and a schema listed before pg_catalog could shadow the operators and catalog
    // tables our queries name (a tid >= of its own in a chunk's ctid range: rows lost, backup green).
    // transaction_timeout (PostgreSQL 17; pg_dump 17 turns it off too) would end the snapshot's
    // transaction mid-backup. statement_timeout first and alone: it must not cut the next query.
    await client.query('SET statement_timeout = 0');
    await client.query(
      `SELECT pg_catalog.set_config(name, CASE WHEN name = 'search_path' THEN '' ELSE '0' END, false) FROM pg_catalog.pg_settings WHERE name IN ('search_path', 'transaction_timeout')`,
    );
  } catch (err) {
    await client.end().catch(() => {});
    throw toAppError(err, `cannot connect to the database ${describeUrl(url)}`);
  }
  return client;
}

/** Closes a client even in the middle of a COPY (end() alone would wait for the query). */
function kill(client: pg.Client | undefined): void {
  if (!client) return;
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
  client.end().catch(() => {});
}

/** Opens a snapshot transaction on a connection; `snapshot` joins an exported one. */
async function beginSnapshot(client: pg.Client, snapshot?: string): Promise<void> {
  // Sessions-wide settings, before BEGIN: the backup must not be cut off by a role's timeouts, and
  // with synchronized seqscans off, a whole-table COPY reads blocks in physical order (the order a
  // drill re-reads to compare content hashes).
  // The COPY output settings are shared with every re-read that compares content (session-settings.ts).
  // row_security off (as pg_dump): a role that policies apply to must fail loudly, never COPY a
  // silently filtered subset of a table's rows.
  await client.query(`SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET synchronize_seqscans = off; SET row_security = off; ${copyOutputSettingsSql()}`);
  // A helper connection takes its own ACCESS SHARE lock when its COPY starts. If another session
  // queued an ACCESS EXCLUSIVE request (ALTER TABLE, a migration) after the coordinator locked the
  // table, that lock request waits for the coordinator, which waits for this helper: no deadlock
  // PostgreSQL can see, so without a timeout the backup would hang forever (pg_dump has the same
  // hazard and uses NOWAIT). Fail with a clear message instead.
  if (snapshot) await client.query(`SET lock_timeout = '${BACKUP_DEFAULTS.lockTimeout}'`);
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  if (snapshot) await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
}

/** Splits tables into COPY chunks, in archive (and work) order: biggest table first. */
export function planChunks(tables: { schema: string; name: string; columns: string[]; pages: number; first?: boolean; whole?: boolean }[], chunkPages: number, tidRange: boolean): DataChunk[] {
  // Referenced tables outside the schemas (auth.users) first: their rows precede the dependent data.
  const sorted = [...tables].sort((a, b) => Number(!!b.first) - Number(!!a.first) || b.pages - a.pages || a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name));
  const out: DataChunk[] = [];
  for (const t of sorted) {
    // Zero-column tables cannot be written as a SELECT list; they are tiny anyway. A `whole` table
    // cannot be planned under search_path '' (TableToCopy.whole): one COPY of the table.
    const n = tidRange && !t.whole && t.columns.length > 0 && chunkPages > 0 ? Math.max(1, Math.ceil(t.pages / chunkPages)) : 1;
    for (let i = 0; i < n; i++) {
      out.push({
        schema: t.schema,
        table: t.name,
        columns: t.columns,
        chunk: i,
        fromPage: n === 1 ? null : i === 0 ? null : i * chunkPages,
        // The last chunk is open-ended: pages added after sizing are still read (and, being after
        // the snapshot, hold no visible rows — but a stale size must never lose rows).
        toPage: n === 1 || i === n - 1 ? null : (i + 1) * chunkPages,
        pages: n === 1 ? t.pages : i === n - 1 ? Math.max(0, t.pages - i * chunkPages) : chunkPages,
      });
    }
  }
  return out;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  promise.catch(() => {}); // a chunk nobody awaits any more (run aborted) must not crash the process
  return { promise, resolve, reject };
}

/**
 * Backs up one PostgreSQL database into `<id>.sql.gz` + `<id>.manifest.json` on `storage`
 * (format: lib/backup/manifest.ts). All tables are read in one REPEATABLE READ READ ONLY snapshot
 * shared by `workers` connections; the source is never written while it is read. When the
 * database has `public.backup_runs` (the app's own database), the run is recorded there (a
 * 'running' row before the snapshot, the result after) with an activity_logs entry, and only one
 * backup runs at a time (advisory lock). Verifies what it stored before reporting success.
 *
 * On any failure: throws an AppError with a one-line message naming the cause, records the run
 * failed (when recording), and deletes whatever it put in storage.
 */
export async function runBackup(opts: BackupOptions): Promise<BackupResult> {
  const startedAt = new Date();
  const t0 = Date.now();
  const id = newBackupId(startedAt);
  const { storage } = opts;
  const trigger = opts.trigger;
  if (!['cron', 'schedule', 'manual', 'cli'].includes(trigger)) throw new AppError('usage', `unknown backup trigger ${JSON.stringify(trigger)}`);
  describeUrl(opts.databaseUrl);
  assertNotTransactionPoolerUrl(opts.databaseUrl);
  const automated = trigger === 'cron' || trigger === 'schedule';

  const control = await connect(opts.databaseUrl, 'control');
  let recording: boolean;
  let locked = false;
  try {
    // The control session holds the lock and idles outside any transaction for the whole run: a
    // role's or database's idle_session_timeout (PostgreSQL 14+) must not end it (that would free
    // the lock mid-run and lose the bookkeeping). pg_settings: older servers lack the setting.
    await control.query(`SELECT pg_catalog.set_config(name, '0', false) FROM pg_catalog.pg_settings WHERE name IN ('idle_session_timeout', 'statement_timeout')`);
    await assertSessionConnection(control);
    recording = await hasBackupRuns(control);
    locked = await tryBackupLock(control);
    if (!locked) {
      const run = recording ? await currentRun(control).catch(() => null) : null;
      throw new AppError(
        'conflict',
        run ? `a backup is already running (id ${run.id}, started ${run.startedAt.toISOString()})` : 'a backup is already running on this database',
      );
    }
    if (recording) {
      await failStaleRuns(control);
      // Every other run of this database is over now (we hold the lock): clear what killed ones left.
      await removeLeftovers(control, storage, { currentId: id });
      await insertRunningRun(control, {
        id,
        trigger,
        triggeredBy: opts.triggeredBy ?? null,
        description: opts.description ?? '',
        startedAt,
        location: storage.location,
      });
    }
  } catch (err) {
    if (locked) await releaseBackupLock(control).catch(() => {});
    await control.end().catch(() => {});
    throw toAppError(err, 'cannot start the backup');
  }

  // The run's row carries its live progress for the dashboard (any server instance reads it).
  if (recording) opts = { ...opts, onProgress: bothProgress(opts.onProgress, progressRecorder(control, id)) };
  let verification: StoredArchiveCheck | null = null;
  // Losing the control session loses the lock: the run stops before it records or keeps anything.
  const watch = watchControlSession(control, opts.signal);
  let bookkeeping: pg.Client = control;
  try {
    const written = await writeBackup(id, startedAt, { ...opts, signal: watch.signal });
    const manifest = written.manifest;
    verification = written.check;
    if (verification && !verification.ok) {
      const first = verification.problems[0];
      throw new AppError('verification_failed', `the stored backup did not verify: ${first ? oneLine(first.problem) : 'unknown problem'}`);
    }
    if (watch.lost()) throw watch.lost();
    // Stored only now: one rule everywhere, a backup is good only if its manifest exists AND it
    // verified. A failure before this line leaves at most an archive, which `list` shows as
    // incomplete and the next run removes (leftovers.ts) if this run could not.
    collectGarbage();
    await storage.put(manifestKey(id), Readable.from(manifestChunks(manifest)));
    const durationMs = Date.now() - t0;
    const location = `${storage.location.replace(/\/$/, '')}/${manifest.archive.key}`;
    let bookkeepingError: string | undefined;
    if (recording) {
      // The backup exists now (manifest written, verified): failing to record it must not delete
      // it. The row stays 'running' and is marked failed as interrupted by the next run; `reindex`
      // records it as succeeded from storage.
      try {
        await markRunSucceeded(control, id, manifest, { durationMs, location, verification });
      } catch (err) {
        if (watch.lost()) throw watch.lost();
        bookkeepingError = `the backup succeeded but could not be recorded in backup_runs: ${oneLine(toAppError(err).message)} (run \`tickethub-backup reindex\`)`;
      }
      await logActivity(control, {
        action: automated ? 'AUTOMATED_BACKUP' : 'MANUAL_BACKUP',
        entityType: 'system',
        entityId: id,
        description: `${automated ? 'Automated daily backup' : trigger === 'cli' ? 'Backup from the command line' : 'Manual backup'}: ${manifest.totals.rows} records in ${manifest.totals.tables} tables, ${formatBytes(storedSizeBytes(manifest))}${manifest.encryption ? ' (encrypted)' : ''}`,
        ipAddress: automated ? 'system-automation' : null,
        userAgent: userAgent(trigger),
        adminUserId: opts.triggeredBy ?? null,
        metadata: { backupId: id, tables: manifest.totals.tables, rows: manifest.totals.rows, sizeBytes: storedSizeBytes(manifest), encrypted: Boolean(manifest.encryption), durationMs, sha256: manifest.archive.sha256, location, verified: verification?.ok ?? null },
      }).catch(() => {});
    }
    opts.onProgress?.({ ...lastProgress(id, manifest), phase: 'done', elapsedMs: durationMs });
    const warnings = [...(manifest.warnings ?? []), ...(bookkeepingError ? [bookkeepingError] : [])];
    return {
      ...(warnings.length ? { warnings } : {}),
      id,
      status: 'succeeded',
      location,
      tables: manifest.totals.tables,
      rows: manifest.totals.rows,
      sizeBytes: storedSizeBytes(manifest),
      durationMs,
      sha256: manifest.archive.sha256,
      manifest,
      verification,
    };
  } catch (err) {
    let e = watch.lost() ?? toAppError(err, 'backup failed');
    // Nothing that looks like a backup may stay behind: manifest first (it is what makes a backup exist).
    let leftBehind = false;
    for (const key of [manifestKey(id), archiveKey(id), encryptedArchiveKey(id)]) await storage.delete(key).catch(() => (leftBehind = true));
    // Storage down: what the run stored stays until the next run removes it (leftovers.ts); say so
    // (`list` shows such an archive as incomplete, never as a backup).
    if (leftBehind) e = new AppError(e.code, `${e.message} ${CLEANUP_PENDING}`, { cause: e, details: e.details });
    if (recording && watch.lost()) {
      // The control session is gone: record the real cause on a new one (not "interrupted" later).
      bookkeeping = await connect(opts.databaseUrl, 'control').catch(() => control);
    }
    if (recording) {
      const durationMs = Date.now() - t0;
      await markRunFailed(bookkeeping, id, oneLine(e.message), durationMs, verification ?? undefined).catch(() => {});
      await logActivity(bookkeeping, {
        action: 'BACKUP_FAILED',
        entityType: 'system',
        entityId: id,
        description: `Backup failed: ${oneLine(e.message)}`,
        ipAddress: automated ? 'system-automation' : null,
        userAgent: userAgent(trigger),
        adminUserId: opts.triggeredBy ?? null,
        metadata: { backupId: id, trigger, error: oneLine(e.message), code: e.code, durationMs },
      }).catch(() => {});
    }
    throw e;
  } finally {
    watch.stop();
    await releaseBackupLock(control).catch(() => {});
    await control.end().catch(() => {});
    if (bookkeeping !== control) await bookkeeping.end().catch(() => {});
  }
}

function userAgent(trigger: BackupTrigger): string {
  return trigger === 'cron' || trigger === 'schedule' ? 'backup-cron-job' : trigger === 'cli' ? 'tickethub-backup-cli' : 'admin-dashboard';
}

function lastProgress(id: string, m: Manifest): BackupProgress {
  return {
    id,
    phase: 'done',
    tablesTotal: m.tables.length,
    tablesDone: m.tables.length,
    rows: m.totals.rows,
    rawBytes: m.archive.rawBytes,
    archiveBytes: m.archive.sizeBytes,
    pagesDone: 0,
    pagesTotal: 0,
    elapsedMs: 0,
  };
}

/**
 * The snapshot read, the archive write and its read-back check (unless verify: false); throws on
 * any failure (the caller cleans up). A check that found a mismatch is returned (not thrown) so the
 * caller records it.
 */
async function writeBackup(id: string, startedAt: Date, opts: BackupOptions): Promise<{ manifest: Manifest; check: StoredArchiveCheck | null }> {
  const t0 = startedAt.getTime();
  const schemas = opts.schemas?.length ? opts.schemas : envSchemas();
  const excludeTableData = opts.excludeTableData ?? [...BOOKKEEPING_TABLES];
  const workers = Math.max(1, Math.min(16, Math.floor(opts.workers ?? envRange('BACKUP_WORKERS', BACKUP_DEFAULTS.workers, 1, 16))));
  const gzipLevel = envRange('BACKUP_GZIP_LEVEL', BACKUP_DEFAULTS.gzipLevel, 1, 9);
  const chunkBytes = opts.chunkBytes ?? envInt('BACKUP_CHUNK_MB', BACKUP_DEFAULTS.chunkBytes / 1048576) * 1048576;
  const { storage, signal } = opts;
  // Read before any work: a bad key is a config error, not a failure after the whole backup.
  const signingKey = signingKeyFromEnv();

  const progress: BackupProgress = { id, phase: 'connecting', tablesTotal: 0, tablesDone: 0, rows: 0, rawBytes: 0, archiveBytes: 0, pagesDone: 0, pagesTotal: 0, elapsedMs: 0 };
  let lastEmit = 0;
  const emit = (force = false) => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (!force && now - lastEmit < 100) return;
    lastEmit = now;
    progress.elapsedMs = now - t0;
    opts.onProgress({ ...progress });
  };
  emit(true);

  const clients: pg.Client[] = [];
  const writer = new ArchiveWriter(gzipLevel);
  let failure: AppError | undefined;
  let results: Deferred<ChunkResult>[] = [];
  // Workers waiting for the writer to catch up (see `window` below).
  let gateWaiters: (() => void)[] = [];
  const wakeGate = () => {
    const w = gateWaiters;
    gateWaiters = [];
    for (const f of w) f();
  };
  const fail = (err: unknown, context?: string): AppError => {
    if (!failure) {
      failure = toAppError(err, context);
      writer.abort(failure);
      for (const c of clients) kill(c);
      for (const r of results) r.reject(failure);
      wakeGate();
    }
    return failure;
  };
  // Encrypted (BACKUP_ENCRYPTION_RECIPIENTS) while it streams; a bad recipient fails here, before anything is stored.
  const recipients = opts.encryptionRecipients !== undefined ? opts.encryptionRecipients : await recipientsFromEnv();
  const sealed = await sealArchive(id, writer.output, recipients);
  const onAbort = () => fail(signal?.reason instanceof AppError ? signal.reason : new AppError('aborted', 'the backup was interrupted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  let spoolDir: string | undefined;
  // Started before the first byte exists, so an unwritable storage fails the run at once.
  const put = storage.put(sealed.key, sealed.stream).catch((err) => {
    throw fail(err, 'cannot write the archive to storage');
  });
  put.catch(() => {});

  try {
    if (signal?.aborted) throw signal.reason instanceof AppError ? signal.reason : new AppError('aborted', 'the backup was interrupted');
    const coordinator = await connect(opts.databaseUrl, 'coordinator');
    clients.push(coordinator);
    await beginSnapshot(coordinator);
    const info = (
      await coordinator.query(`SELECT current_setting('server_version') AS v, current_setting('server_version_num')::int AS num,
              current_database() AS db, pg_encoding_to_char(encoding) AS enc, current_setting('block_size')::int AS bs
         FROM pg_database WHERE datname = current_database()`)
    ).rows[0] as { v: string; num: number; db: string; enc: string; bs: number };

    const missing = (await coordinator.query(`SELECT s FROM unnest($1::text[]) s WHERE NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s)`, [schemas])).rows.map((r) => r.s);
    if (missing.length) throw new AppError('config', `schema ${missing.map((s: string) => JSON.stringify(s)).join(', ')} does not exist in database ${info.db}`);

    // Lock every table now (as pg_dump does), so no DDL can change them between this point and
    // their COPY; one by one so a failure names its table. A table we may not read fails here,
    // before anything is written.
    await coordinator.query(`SET LOCAL lock_timeout = '${BACKUP_DEFAULTS.lockTimeout}'`);
    const toLock = await coordinator.query(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p')
          -- (not materialized views: LOCK TABLE refuses them; not extension members: the extension recreates them)
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2`,
      [schemas],
    );
    // LOCK_BATCH statements per round trip (5,000 tables: 1.5-2.8 s one by one under load, 0.1-0.3 s
    // batched); a batch that fails is undone to its savepoint and locked one by one, so the failure
    // names its table.
    const lockRows = toLock.rows as { schema: string; name: string }[];
    const lockSql = (t: { schema: string; name: string }) => `LOCK TABLE ${qualifiedName(t.schema, t.name)} IN ACCESS SHARE MODE`;
    for (let i = 0; i < lockRows.length; i += LOCK_BATCH) {
      const batch = lockRows.slice(i, i + LOCK_BATCH);
      await coordinator.query('SAVEPOINT tickethub_lock_batch');
      try {
        await coordinator.query(batch.map(lockSql).join(';\n'));
        await coordinator.query('RELEASE SAVEPOINT tickethub_lock_batch');
        continue;
      } catch {
        await coordinator.query('ROLLBACK TO SAVEPOINT tickethub_lock_batch');
      }
      for (const t of batch) {
        try {
          await coordinator.query(lockSql(t));
        } catch (err) {
          throw toAppError(err, `cannot read table ${t.schema}.${t.name}`);
        }
      }
      await coordinator.query('RELEASE SAVEPOINT tickethub_lock_batch');
    }
    await coordinator.query(`SET LOCAL lock_timeout = 0`);
    const snapshot = (await coordinator.query('SELECT pg_catalog.pg_export_snapshot() AS s')).rows[0].s as string;

    // The catalog fingerprint is one long query (about 1 s of server time on 5,000 tables) that
    // reads catalogs only: with more than one worker allowed, it runs on its own connection in the
    // same snapshot, beside the schema dump, instead of after it. But its pg_get_viewdef /
    // pg_get_ruledef calls lock each view and every relation it reads, a second time beside the
    // coordinator's own locks: with many views it runs on the coordinator (worker-locks.ts).
    let fingerprintClient: pg.Client | undefined;
    if (workers > 1 && (await viewDefinitionLocks(coordinator, schemas)) <= FINGERPRINT_SIDE_LOCKS) {
      fingerprintClient = await connect(opts.databaseUrl, 'fingerprint');
      clients.push(fingerprintClient);
      await beginSnapshot(fingerprintClient, snapshot);
    }
    // That connection first reads part of the catalog beside the coordinator (dumpSchema's helper:
    // privileges and columns), then runs the fingerprint beside the rest of the dump and the copy of
    // the rows: on 5,000 tables the catalog read took ~1.7 s on the coordinator alone while the
    // fingerprint ran beside it, and the build (~1.4 s of this process's CPU) left the server idle.
    let catalogRead = (): void => undefined;
    // The catalog fingerprint and, beside it, the columns' storage settings (column-settings.ts).
    const fingerprintOf = async (c: pg.Client) => ({ ...(await schemaFingerprint(c, schemas)), ...(await columnSettings(c, schemas)) });
    const fingerprintDone = fingerprintClient
      ? new Promise<void>((resolve) => (catalogRead = resolve))
          .then(() => fingerprintOf(fingerprintClient!))
          .then(async (f) => {
            await fingerprintClient!.query('COMMIT');
            return f;
          })
      : undefined;
    fingerprintDone?.catch(() => {}); // awaited below; a failure before that is reported there

    progress.phase = 'schema';
    emit(true);
    const migration = await appliedMigrationLevel(coordinator);
    const dump = await dumpSchema(coordinator, { schemas, excludeTableData, helper: fingerprintClient, onHelperDone: () => catalogRead() });
    const lockEstimate = await countLockedObjects(coordinator, schemas);
    // Dependencies outside the schemas are recorded with their definitions and reported (object
    // kinds the dumper cannot reproduce already failed dumpSchema, by name).
    const externalDependencies = await describeExternal(coordinator, dump.external);
    // On the coordinator when there is no side connection; else awaited after the copy, which it runs beside.
    const fingerprintHere = fingerprintDone ? undefined : await fingerprintOf(coordinator);
    if (referencedDataMode() === 'include') dump.tables.push(...(await referencedTables(coordinator, dump.external)));
    // Objects outside the schemas that depend on them (a view in another schema over a backed-up
    // table, a policy on storage.objects calling a backed-up function) are not in the backup: a
    // restore into a new database lacks them, and a replace drops them (--cascade). Said, not
    // silent. (Triggers on outside tables calling backed-up functions ARE in the backup.)
    const outsideTriggers = dump.objects.filter((o) => o.kind === 'TRIGGER' && o.schema !== null && o.table !== undefined && !schemas.includes(o.schema));
    const dependents = await outsideDependents(coordinator, schemas, outsideTriggers.map((o) => ({ schema: o.schema!, table: o.table!, name: o.name })));
    const settingsWarning = await databaseSettingsWarning(coordinator);
    const spaceWarning = await tablespacesWarning(coordinator, schemas);
    const warnings = [
      ...externalDependencies.map(externalWarning),
      ...(settingsWarning ? [settingsWarning] : []),
      ...(spaceWarning ? [spaceWarning] : []),
      ...dump.warnings.filter((w) => w.startsWith('dependency loop') || w.startsWith(SEARCH_PATH_WARNING)),
      ...dependents.map((d) => `not in this backup: ${d}, outside the backed-up schemas; a restore into a new database lacks it, and a replace drops it (--cascade)`),
    ];
    const excluded = new Set(excludeTableData);
    const isExcluded = (t: TableToCopy) => t.dataExcluded || excluded.has(`${t.schema}.${t.name}`);

    // Real sizes, not pg_class.relpages (0 until the first VACUUM/ANALYZE).
    const dataTables = dump.tables.filter((t) => !isExcluded(t));
    const sizes = new Map<number, number>();
    // Tables whose heap is at most SMALL_MEMBER_BYTES are read in batches (copyBatch). Their TOAST
    // is not asked for (a size per table costs a file lookup each on the server): a small heap
    // with megabytes of TOAST is streamed inside its batch like any big table.
    const smallTables = new Set<string>();
    if (dataTables.length) {
      const r = await coordinator.query(`SELECT o AS oid, pg_catalog.pg_relation_size(o::regclass) AS bytes FROM unnest($1::oid[]) o`, [dataTables.map((t) => t.oid)]);
      for (const row of r.rows) sizes.set(Number(row.oid), Number(row.bytes));
      const small = new Set(r.rows.filter((row) => Number(row.bytes) <= SMALL_MEMBER_BYTES).map((row) => Number(row.oid)));
      for (const t of dataTables) if (small.has(Number(t.oid))) smallTables.add(`${t.schema}.${t.name}`);
    }
    const chunkPages = Math.max(1, Math.floor(chunkBytes / info.bs));
    const chunks = planChunks(
      dataTables.map((t) => ({ schema: t.schema, name: t.name, columns: t.columns, pages: Math.ceil((sizes.get(Number(t.oid)) ?? 0) / info.bs), first: t.referenced, whole: t.whole })),
      chunkBytes > 0 ? chunkPages : 0,
      info.num >= 140000, // TID range scans; older servers would re-scan the table per chunk
    );
    progress.tablesTotal = dump.tables.length;
    progress.tablesDone = dump.tables.length - dataTables.length;
    progress.pagesTotal = chunks.reduce((s, c) => s + c.pages, 0);
    const chunksLeft = new Map<string, number>();
    for (const c of chunks) chunksLeft.set(`${c.schema}.${c.table}`, (chunksLeft.get(`${c.schema}.${c.table}`) ?? 0) + 1);

    // Helper connections join the exported snapshot; the coordinator is worker 0.
    const nWorkers = Math.max(1, Math.min(workers, chunks.length));
    const extra = await Promise.all(
      Array.from({ length: nWorkers - 1 }, async () => {
        const c = await connect(opts.databaseUrl, 'worker');
        clients.push(c);
        await beginSnapshot(c, snapshot);
        return c;
      }),
    );
    const workerClients = [coordinator, ...extra];

    // Header and pre-data go out while the workers start reading.
    progress.phase = 'data';
    emit(true);
    await writer.appendText({ section: 'header', kind: 'HEADER', schema: null, name: 'header' }, headerSql(id));
    await appendObjects(writer, dump.objects, 'pre-data');
    // Written: only post-data is needed again (at the end). Letting go of the pre-data SQL (most of
    // a large catalog's) keeps it from the heap while every table is read.
    dump.objects = dump.objects.filter((o) => o.section === 'post-data');
    collectGarbage();

    const spoolParent = process.env.BACKUP_SPOOL_DIR || os.tmpdir();
    await removeStaleSpools(spoolParent);
    spoolDir = await mkdtemp(path.join(spoolParent, `tickethub-backup-${id}-`)).catch((err: NodeJS.ErrnoException) => {
      throw new AppError('config', `spool directory ${spoolParent} (BACKUP_SPOOL_DIR) is not usable: ${err.code ?? err.message}`, { cause: err });
    });
    results = chunks.map(() => deferred<ChunkResult>());
    const small = chunks.map((c) => c.fromPage === null && c.toPage === null && smallTables.has(`${c.schema}.${c.table}`));
    // Workers may run at most `window` claims (a chunk, or a batch of small tables) ahead of the
    // writer: bounds spool memory and disk. `claimEnds`: where each claim not yet written ends.
    const window = nWorkers * 2;
    let claimEnds: number[] = [];
    let next = 0;
    let written = 0;
    const claimsAhead = () => {
      claimEnds = claimEnds.filter((e) => e > written);
      return claimEnds.length;
    };
    const memberOpts = {
      gzipLevel,
      spoolDir: '',
      spoolMemory: BACKUP_DEFAULTS.spoolMemory,
      // An encrypted backup's spooled chunks are encrypted too (chunk-spool.ts): no row in the clear on disk.
      spoolEncrypted: Boolean(recipients),
      onData: (bytes: number, rows: number) => {
        progress.rawBytes += bytes;
        progress.rows += rows;
        emit();
      },
    };
    const worker = async (client: pg.Client) => {
      let inTransaction = 0;
      while (!failure) {
        while (claimsAhead() >= window && !failure) await new Promise<void>((r) => gateWaiters.push(r));
        if (failure) return;
        const i = next;
        if (i >= chunks.length) return;
        // A run of small whole tables is one batch query; anything else one chunk.
        let k = 1;
        if (small[i]) while (k < COPY_BATCH_TABLES && i + k < chunks.length && small[i + k]) k++;
        next = i + k;
        claimEnds.push(i + k);
        let failedAt = i;
        try {
          // Helpers release their table locks now and then (worker-locks.ts); the coordinator keeps its own.
          if (client !== coordinator && inTransaction + k > HELPER_CHUNKS_PER_TRANSACTION) {
            await renewSnapshot(client, snapshot);
            inTransaction = 0;
          }
          inTransaction += k;
          if (small[i]) {
            try {
              await copyBatch(client, chunks.slice(i, i + k), { ...memberOpts, spoolDir: spoolDir!, spoolName: (j) => `chunk-${i + j}.gz` }, (j, r) => results[i + j].resolve(r));
            } catch (err) {
              failedAt = i + ((err as { batchStatement?: number }).batchStatement ?? 0);
              throw err;
            }
          } else {
            results[i].resolve(await copyChunk(client, chunks[i], { ...memberOpts, spoolDir: spoolDir!, spoolName: `chunk-${i}.gz` }));
          }
        } catch (caught) {
          const c = chunks[failedAt];
          const err = queryFailureCause(client, caught);
          const code = (err as { code?: string }).code;
          const e =
            failure ??
            fail(
              code === '55P03'
                ? new AppError('db_error', `reading table ${c.schema}.${c.table} failed: lock timeout: another session is waiting for an exclusive lock on it (ALTER TABLE, a migration?); try again when it is done`, { cause: err })
                : code === 'ENOSPC'
                  ? new AppError('config', `spool directory ${spoolParent} (BACKUP_SPOOL_DIR) is full: no space left on device while spooling table ${c.schema}.${c.table}`, { cause: err })
                  : code === '42501' && /row-level security/.test((err as Error).message)
                    ? // The backup reads with row_security off (as pg_dump does): rows a policy hides would otherwise be left out silently.
                      new AppError('db_permission', `reading table ${c.schema}.${c.table} failed: its row-level security policies apply to this role (FORCE ROW LEVEL SECURITY, or the role does not own it) and a backup must read every row; back up with a role that has BYPASSRLS (or a superuser)`, { cause: err })
                    : err,
              `reading table ${c.schema}.${c.table} failed`,
            );
          for (let j = i; j < i + k; j++) results[j].reject(e);
          return;
        }
      }
    };
    const workersDone = Promise.all(workerClients.map((c) => worker(c)));
    workersDone.catch(() => {});

    const tableEntries = new Map<string, { rows: number; entries: number[]; shas: string[] }>();
    try {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        const r = await results[i].promise;
        try {
          const e = await writer.appendMember(
            { section: 'table-data', kind: 'TABLE DATA', schema: c.schema, name: c.table, rows: r.rows, chunk: c.chunk, copy: r.copy },
            r.spool.read(),
            { rawLength: r.rawLength, sha256: r.sha256 },
          );
          const key = `${c.schema}.${c.table}`;
          const t = tableEntries.get(key) ?? { rows: 0, entries: [], shas: [] };
          t.rows += r.rows;
          t.entries.push(e.index);
          t.shas.push(r.sha256);
          tableEntries.set(key, t);
          const left = chunksLeft.get(key)! - 1;
          chunksLeft.set(key, left);
          if (left === 0) progress.tablesDone++;
        } finally {
          await r.spool.dispose();
        }
        written++;
        progress.pagesDone += c.pages;
        progress.archiveBytes = writer.size;
        wakeGate();
        emit();
      }
    } catch (err) {
      throw fail(err);
    }
    await workersDone;
    if (failure) throw failure;
    const fingerprint =
      fingerprintHere ??
      (await fingerprintDone!.catch((err: unknown) => {
        throw toAppError(queryFailureCause(fingerprintClient!, err), 'reading the catalog fingerprint failed');
      }));

    progress.phase = 'finishing';
    emit(true);
    await writer.appendText({ section: 'sequence-set', kind: 'SEQUENCE SET', schema: null, name: 'sequences' }, dump.sequenceSetSql ? withNewline(dump.sequenceSetSql) : '');
    // Large objects: still inside the snapshot, streamed in slices (kinds/large-objects.ts).
    const { records: largeObjects, security: loSecurity } = await dumpLargeObjects(coordinator, info.num, async (sql, [from, to]) => {
      await writer.appendText({ section: 'post-data', kind: 'LARGE OBJECTS', schema: null, name: from === to ? String(from) : `${from}..${to}` }, sql);
      progress.archiveBytes = writer.size;
      emit();
    });
    // Their owners and privileges in members of their own (restore --no-owner / --no-privileges skip them).
    if (loSecurity.ownerSql) await writer.appendText({ section: 'post-data', kind: 'OWNER', schema: null, name: 'LARGE OBJECTS' }, loSecurity.ownerSql);
    if (loSecurity.aclSql) await writer.appendText({ section: 'post-data', kind: 'ACL', schema: null, name: 'LARGE OBJECTS' }, loSecurity.aclSql);
    const roles = {
      ...dump.roles,
      owners: [...new Set([...dump.roles.owners, ...loSecurity.owners])].sort(),
      privileges: [...new Set([...dump.roles.privileges, ...loSecurity.privileges])].sort(),
    };
    for (const c of workerClients) await c.query('COMMIT').catch(() => {});
    await appendObjects(writer, dump.objects, 'post-data');
    const archive = await writer.finish();
    await put;
    progress.archiveBytes = archive.sizeBytes;

    // The stored object must be byte for byte what was written: read it back and hash it as stored
    // (the gzip stream, or its ciphertext). Every member's content hash, row count and length were
    // taken from the very bytes handed to zlib; decompressing them again is `verify`'s job.
    let check: StoredArchiveCheck | null = null;
    if (opts.verify !== false) {
      progress.phase = 'verifying';
      emit(true);
      const enc = sealed.encryption();
      // A storage failure under the check is the storage's error, not "did not verify" (read-back.ts).
      check = await readBackCheck(storage, (s) => checkStoredArchive(s, id, sealed.key, enc ? { ...enc.ciphertext, encrypted: true } : { ...archive, encrypted: false }, { signal }));
    }

    const tables: ManifestTable[] = dump.tables.map((t) => {
      const te = tableEntries.get(`${t.schema}.${t.name}`);
      const shas = te?.shas ?? [];
      return {
        schema: t.schema,
        name: t.name,
        rows: te?.rows ?? 0,
        columns: t.columns,
        entries: te?.entries ?? [],
        contentSha256: contentShaOf(shas),
        ...(isExcluded(t) ? { dataExcluded: true } : {}),
        ...(t.referenced ? { referenced: true } : {}),
      };
    });
    const manifest: Manifest = signManifest(buildManifest({
      id,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      trigger: opts.trigger,
      description: opts.description ?? '',
      source: { serverVersion: info.v, serverVersionNum: info.num, database: info.db, schemas, encoding: info.enc },
      app: { version: APP_VERSION, migration },
      archive: { key: sealed.key, sizeBytes: archive.sizeBytes, sha256: archive.sha256, rawBytes: writer.rawBytes },
      tables,
      entries: writer.entries,
      ...(sealed.encryption() ? { encryption: sealed.encryption() } : {}),
      ...(largeObjects.length ? { largeObjects } : {}),
      lockEstimate,
      roles,
      externalDependencies,
      ...(dump.publications.length ? { publications: dump.publications } : {}),
      warnings,
      // The sequences' values as dumped (what the sequence-set member restores), for the drill.
      schemaFingerprint: sortedKeys({ ...fingerprint, ...sequenceValueEntries(dump.sequences) }),
      ...(check?.ok ? { checkedAfterWrite: { scope: check.scope, checkedAt: check.checkedAt } } : {}),
    }), signingKey);
    // The manifest is stored by runBackup once the archive read back verified.
    return { manifest, check };
  } catch (err) {
    const e = fail(err);
    await put.catch(() => {});
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    for (const c of clients) {
      if (failure) kill(c);
      else await c.end().catch(() => {});
    }
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Spool directories left by a process that was killed (SIGKILL, power loss) are removed by a later
 * run once they are two days old — old enough that no live backup can still own them.
 */
/** Tables locked per round trip before the snapshot is exported. */
const LOCK_BATCH = 500;

/**
 * The section's objects in order, packed GROUP_RAW_BYTES of SQL to a gzip member (format v3): a
 * 5,000-table catalog has ~35,000 objects, and a member plus a checksum each made the archive and
 * the backup's time mostly per-member overhead.
 */
async function appendObjects(writer: ArchiveWriter, objects: DumpObject[], section: 'pre-data' | 'post-data'): Promise<void> {
  let group: { info: MemberInfo; text: string }[] = [];
  let bytes = 0;
  const flush = async () => {
    if (group.length) await writer.appendTextGroup(group);
    group = [];
    bytes = 0;
  };
  for (const o of objects) {
    if (o.section !== section) continue;
    const text = withNewline(o.sql);
    if (bytes > 0 && bytes + text.length > GROUP_RAW_BYTES) await flush();
    group.push({ info: { section, kind: o.kind, schema: o.schema ?? null, name: o.name, ...(o.table ? { table: o.table } : {}) }, text });
    bytes += text.length;
  }
  await flush();
}

async function removeStaleSpools(parent: string): Promise<void> {
  try {
    const cutoff = Date.now() - 2 * 24 * 3600 * 1000;
    for (const name of await readdir(parent)) {
      const m = /^tickethub-backup-(\d{8}T\d{6}Z-[0-9a-z]+)-/.exec(name);
      const at = m ? backupIdTime(m[1]) : null;
      if (at && at.getTime() < cutoff) await rm(path.join(parent, name), { recursive: true, force: true });
    }
  } catch {
    // best effort: a spool directory we cannot list or remove is not the backup's problem
  }
}

/** BACKUP_ENCRYPTION_RECIPIENTS, checked (encryption-keys.ts); age-encryption is loaded only when it is set. */
async function recipientsFromEnv(): Promise<string[] | null> {
  const v = process.env.BACKUP_ENCRYPTION_RECIPIENTS;
  if (v === undefined || v.trim() === '') return null;
  return (await import('./encryption/encryption-keys')).encryptionRecipients(v);
}

/**
 * A full garbage collection where little is alive any more (the catalog read and the pre-data SQL
 * written; the data read, the manifest built), when the process runs with --expose-gc (the CLI
 * does: bin/tickethub-backup.mjs). V8 sizes the old generation from what is alive at its last
 * full collection (up to 4x it): left alone, the catalog's garbage of a 5,000-table database set
 * it at ~130 MB for the rest of the run. A no-op without the flag (the web app).
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Members are concatenated into one script: each must end its last line. */
function withNewline(sql: string): string {
  return sql.endsWith('\n') ? sql : `${sql}\n`;
}

/**
 * Relations that reading the definitions of the views, materialized views and rules of `schemas`
 * locks (pg_get_viewdef, pg_get_ruledef): each relation with a rule, and each relation a rule's
 * query reads (from pg_depend; a catalog query, no locks).
 */
async function viewDefinitionLocks(client: pg.ClientBase, schemas: string[]): Promise<number> {
  const r = await client.query<{ n: string }>(
    `WITH rules AS (SELECT r.oid, r.ev_class FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[]))
     SELECT count(*)::int8::text AS n FROM (
       SELECT ev_class AS rel FROM rules
       UNION SELECT d.refobjid FROM pg_catalog.pg_depend d
              WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid IN (SELECT oid FROM rules)
                AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass) x`,
    [schemas],
  );
  return Number(r.rows[0].n);
}

/** `o` with its keys in code-point order (the fingerprint's order, however it was assembled). */
function sortedKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
