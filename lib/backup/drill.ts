import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { hasBackupRuns, recordDrillResult } from './backup-runs';
import { fingerprintDifferences, fingerprintFormat, schemaFingerprint } from './catalog/schema-fingerprint';
import { largeObjectProblems } from './catalog/kinds/large-objects';
import { quoteIdent } from './catalog/quote-ident';
import { COLUMN_SETTINGS_KEY, columnSettings } from './catalog/column-settings';
import { restoredSequenceValues, SEQUENCE_VALUES_KEY } from './catalog/sequence-values';
import { connectDrillServer, prepareDrillTarget } from './drill-dependencies';
import { storageArchiveSource } from './archive-reader';
import { readManifest } from './list-backups';
import type { Manifest } from './manifest';
import { checkManifest, redactTarget } from './restore/preflight';
import { restoreBackup } from './restore/restore-backup';
import { restoreParallel } from './restore/restore-parallel';
import type { RestoredTable } from './restore/restore-types';

/** Connections of a drill whose backup does not fit one transaction on the drill server (see runDrill). */
const DRILL_FALLBACK_JOBS = 2;

export type DrillPolicy = 'off' | 'weekly' | 'daily';

/** Outcome of one restore drill (stored as backup_runs.drill). */
export interface DrillResult {
  ok: boolean;
  id: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** 'scratch database <name> (created and dropped)' or 'DRILL_DATABASE_URL <host/db>'. */
  target: string;
  tables: RestoredTable[];
  rows: number;
  /** Why it failed (one line), null when ok. */
  error: string | null;
  /** Whether the result was written to backup_runs of the app database. */
  recorded: boolean;
  /** What the drill prepared (external dependencies recreated, roles created), schema differences found, and what it did not compare (deparsed definitions across major versions). */
  notes?: string[];
  /** What the restore warned about (e.g. the backup is unsigned). */
  warnings: string[];
}

export interface DrillOptions {
  storage: StorageBackend;
  id: string;
  /** An EMPTY database to restore into (DRILL_DATABASE_URL); left as restored, not dropped. */
  drillUrl?: string;
  /** Any database URL on the server where a scratch database may be created and dropped. */
  serverUrl?: string;
  /** The app database whose backup_runs row gets drill_at/drill (when it has that table). */
  recordUrl?: string;
  onProgress?: Parameters<typeof restoreBackup>[0]['onProgress'];
  signal?: AbortSignal;
  /** Create the roles the backup needs that the drill server lacks (NOLOGIN); without it the drill names them and fails. */
  createRoles?: boolean;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const c = await connectDrillServer(url);
  try {
    await c.query(sql);
  } catch (err) {
    throw toAppError(err, `drill server ${redactTarget(url)}`);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * A restore drill: restores backup `id` fresh into a scratch database (created on the server of
 * `serverUrl` and always dropped afterwards) or into the empty `drillUrl`, and compares every
 * table's row count and content hash with the values the manifest recorded at backup time (the
 * restore does that comparison inside its transaction). A drill that finds a difference, a corrupt
 * archive or a restore error resolves with ok=false and the cause; only a drill that could not run
 * at all (server unreachable, no permission to create a database) rejects. The result is recorded
 * in backup_runs (drill_at, drill) of `recordUrl` when that database has the table and the row.
 */
export async function runDrill(opts: DrillOptions): Promise<DrillResult> {
  const started = Date.now();
  const drillUrl = opts.drillUrl ?? process.env.DRILL_DATABASE_URL;
  let targetUrl: string;
  let target: string;
  let scratch: string | null = null;
  let holder: pg.Client | null = null;
  // An encrypted backup and no identity here, or one that is not a recipient's: the drill cannot
  // run, which says nothing about the backup. One line, and nothing recorded (before, a failed
  // drill was recorded and the good backup stopped counting as good for retention and health).
  await storageArchiveSource(opts.storage, opts.id)
    .checkIdentity?.(true)
    .catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'config') throw err;
      // anything else (no manifest, a malformed one) is reported by the drill itself below
    });
  if (drillUrl) {
    targetUrl = drillUrl;
    target = `drill database ${redactTarget(drillUrl)}`;
  } else {
    if (!opts.serverUrl) throw new AppError('usage', 'a drill needs a server to create its scratch database on (serverUrl / --drill-url / DRILL_DATABASE_URL)');
    scratch = `tickethub_drill_${opts.id.slice(0, 15).toLowerCase()}_${randomBytes(3).toString('hex')}`;
    // The scratch database has the source's encoding when that is SQL_ASCII, where a character is a
    // byte: in UTF8, char(n) pads and varchar(n)/length() count multibyte text differently, so the
    // rows could never equal the backup's (every drill of such a database failed 'content hash
    // differs' on data that restores exactly into SQL_ASCII). SQL_ASCII with any locale needs a
    // superuser; with C, anyone. Any other encoding converts exactly into UTF8. (A manifest that
    // cannot be read here is read again, and reported, below.)
    const sqlAscii = (await readManifest(opts.storage, opts.id).catch(() => null))?.source?.encoding === 'SQL_ASCII';
    holder = await holdScratch(opts.serverUrl, scratch);
    await adminQuery(opts.serverUrl, `CREATE DATABASE ${quoteIdent(scratch)} TEMPLATE template0 ${sqlAscii ? "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'" : "ENCODING 'UTF8'"}`);
    targetUrl = withDatabase(opts.serverUrl, scratch);
    target = `scratch database ${scratch} (created and dropped)`;
  }
  const result: DrillResult = { ok: false, id: opts.id, startedAt: new Date(started).toISOString(), finishedAt: '', durationMs: 0, target, tables: [], rows: 0, error: null, recorded: false, warnings: [] };
  try {
    const m = await readManifest(opts.storage, opts.id);
    // Before the manifest is used for anything (roles, dependencies): its signature, id, consistency.
    checkManifest(m, opts.id, `backup ${opts.id} in ${opts.storage.location}`);
    // Every backup of format v3 records its schema fingerprint: without it the drill would compare
    // rows only, and a manifest with it deleted (and a GRANT dropped from the archive, checksums
    // fixed up) passed.
    if (m.formatVersion >= 3 && !m.schemaFingerprint) throw new AppError('corrupt', `backup ${opts.id} in ${opts.storage.location}: the manifest has no schema fingerprint, which every backup of format v3 records (tampered manifest?)`);
    result.notes = await prepareDrillTarget(targetUrl, m, { createRoles: opts.createRoles });
    // A drill ALWAYS re-reads what it restored: proving the server stored exactly what the backup
    // holds is its point (a restore does that only with --check-content).
    const common = { source: opts.id, storage: opts.storage, targetUrl, checkContent: true, onProgress: opts.onProgress, signal: opts.signal };
    let fallback: string | null = null;
    const r = await restoreBackup({ ...common, mode: 'fresh' }).catch((err: unknown) => {
      // Too big for ONE transaction on this server's lock table (thousands of tables on stock
      // settings): the atomic restore refused before touching anything. Atomicity proves nothing
      // in a drill's database (scratch, or given empty for drills), so restore it as `restore
      // --jobs 2` would, still re-reading every table; say so, and what an atomic restore needs.
      const needed = (err instanceof AppError ? (err.details as { maxLocksPerTransactionNeeded?: number } | undefined) : undefined)?.maxLocksPerTransactionNeeded;
      if (!needed) throw err;
      fallback = `restored on ${DRILL_FALLBACK_JOBS} connections (not atomic), as restore --jobs ${DRILL_FALLBACK_JOBS}: this server's lock table cannot hold the backup in one transaction; for an atomic restore, set max_locks_per_transaction = ${needed} on the target server and restart it`;
      return restoreParallel({ ...common, jobs: DRILL_FALLBACK_JOBS });
    });
    result.tables = r.tables;
    result.rows = r.rows;
    result.warnings = fallback ? [fallback, ...r.plan.warnings] : r.plan.warnings;
    result.ok = r.tables.every((t) => t.rows === t.expectedRows && t.contentMatches === true);
    if (!result.ok) result.error = 'restored tables differ from the backup';
    // A materialized view the source had populated and the restore could not refresh: restorable
    // only after a GRANT in the source, so the drill does not pass (the restore itself warns).
    if (result.ok && r.warnings.length) {
      result.ok = false;
      result.notes.push(...r.warnings);
      result.error = r.warnings.length > 1 ? `${r.warnings[0]} (and ${r.warnings.length - 1} more)` : r.warnings[0];
    }
    const schema = result.ok ? await compareSchema(targetUrl, m) : { problems: [], notes: [] };
    result.notes.push(...schema.notes);
    const diff = result.ok ? [...schema.problems, ...(await compareLargeObjects(targetUrl, m))] : [];
    if (diff.length) {
      result.ok = false;
      result.notes.push(...diff);
      result.error = `restored ${diff.every((d) => d.startsWith('large object')) ? 'large objects differ' : 'schema differs'} from the backup: ${diff.slice(0, 3).join('; ')}${diff.length > 3 ? ` and ${diff.length - 3} more` : ''}`;
    }
  } catch (err) {
    const ae = toAppError(err);
    // The backup does not exist, or the drill could not reach its database: not a drill verdict.
    if (ae.code === 'not_found' || ae.code === 'db_unreachable' || ae.code === 'db_auth' || ae.code === 'aborted' || ae.code === 'usage' || ae.code === 'conflict') throw ae;
    result.error = oneLine(ae.message);
    const tables = (ae.details as { tables?: RestoredTable[] } | undefined)?.tables;
    if (tables) result.tables = tables;
  } finally {
    if (scratch && opts.serverUrl) await adminQuery(opts.serverUrl, `DROP DATABASE IF EXISTS ${quoteIdent(scratch)} WITH (FORCE)`).catch(() => {});
    await holder?.end().catch(() => {});
  }
  result.finishedAt = new Date().toISOString();
  result.durationMs = Date.now() - started;
  if (opts.recordUrl) result.recorded = await recordDrill(opts.recordUrl, result).catch(() => false);
  return result;
}

const SCRATCH_LOCK = `SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('tickethub-drill:' || $1)) AS ok`;
/** The application_name of the session holding a running drill's scratch database (see holdScratch). */
const SCRATCH_HOLDER = 'tickethub-drill:';

/**
 * A drill killed before its `finally` (SIGKILL, a serverless timeout, a crash) left its scratch
 * database — a full copy of the data — on the server forever. Each drill now holds a session
 * advisory lock named after its scratch database for as long as it runs; before creating its own,
 * it drops every `tickethub_drill_…` database whose lock is free and that nobody is connected to
 * (its drill is provably gone). Returns the connection holding this drill's lock.
 *
 * An advisory lock lives in ONE database: a drill whose server URL names another database of the
 * same server (another app's, or the CLI's DATABASE_URL) saw the lock free and dropped a running
 * drill's scratch database in the moments nobody was connected to it (between CREATE DATABASE and
 * the restore, or between the restore and the schema comparison): that drill failed "database …
 * does not exist". The holding session therefore also names the scratch database in its
 * application_name, which pg_stat_activity shows across databases; the lock stays for drills of
 * earlier versions.
 */
export async function holdScratch(serverUrl: string, scratch: string): Promise<pg.Client> {
  const c = await connectDrillServer(serverUrl);
  try {
    await c.query(`SELECT pg_catalog.set_config('application_name', $1, false)`, [SCRATCH_HOLDER + scratch]);
    await c.query(SCRATCH_LOCK, [scratch]);
    const left = await c.query<{ datname: string }>(
      `SELECT d.datname FROM pg_catalog.pg_database d
        WHERE d.datname LIKE 'tickethub\\_drill\\_%' AND d.datname <> $1
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                           WHERE a.datname = d.datname OR a.application_name = $2 || d.datname)`,
      [scratch, SCRATCH_HOLDER],
    );
    for (const { datname } of left.rows) {
      if (!(await c.query<{ ok: boolean }>(SCRATCH_LOCK, [datname])).rows[0].ok) continue; // its drill runs
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`).catch(() => {});
      await c.query(`SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('tickethub-drill:' || $1))`, [datname]);
    }
    return c;
  } catch (err) {
    await c.end().catch(() => {});
    throw toAppError(err, `drill server ${redactTarget(serverUrl)}`);
  }
}

/**
 * Format v2+: the restored schemas' catalog fingerprint against the one recorded at backup time.
 * When the drill server's major version is not the source's, the text the server deparses (view
 * queries, CHECK expressions, index expressions, defaults, policies, trigger WHEN, SQL-standard
 * bodies) prints differently by design: it is left out of the comparison, with a note saying so
 * (fingerprints recorded before that split cannot separate it: compared whole, as before).
 */
async function compareSchema(url: string, m: Manifest): Promise<{ problems: string[]; notes: string[] }> {
  if (!m.schemaFingerprint) return { problems: [], notes: [] };
  const c = await connectDrillServer(url);
  try {
    const format = fingerprintFormat(m.schemaFingerprint);
    const targetNum = Number((await c.query<{ v: string }>(`SELECT pg_catalog.current_setting('server_version_num') AS v`)).rows[0].v);
    const sourceMajor = Math.floor(m.source.serverVersionNum / 10000);
    const targetMajor = Math.floor(targetNum / 10000);
    const sameMajor = sourceMajor === targetMajor;
    const actual = await schemaFingerprint(c, m.source.schemas, { format });
    // Backups that recorded their sequences' values (sequence-values.ts): the restored ones too.
    if (m.schemaFingerprint[SEQUENCE_VALUES_KEY]) Object.assign(actual, await restoredSequenceValues(c, m.source.schemas));
    // Backups that recorded their columns' storage settings (column-settings.ts): the restored ones too.
    if (m.schemaFingerprint[COLUMN_SETTINGS_KEY]) Object.assign(actual, await columnSettings(c, m.source.schemas));
    const d = fingerprintDifferences(m.schemaFingerprint, actual, { deparsed: sameMajor || format === 1 });
    const notes = d.notCompared
      ? [`${d.notCompared} object${d.notCompared === 1 ? '' : 's'}' deparsed definitions (views, CHECK and exclusion constraints, index expressions, defaults, rules, policies, trigger WHEN, SQL-standard routine bodies) not compared across versions (backup of PostgreSQL ${sourceMajor}, drill on ${targetMajor}); their names, columns, types, owners, privileges and comments were`]
      : [];
    return { problems: d.problems, notes };
  } finally {
    await c.end().catch(() => {});
  }
}

/** Large objects (in the manifest since issue 9): each restored one's size and SHA-256 against the manifest's record. */
async function compareLargeObjects(url: string, m: Manifest): Promise<string[]> {
  if (!m.largeObjects?.length) return [];
  const c = await connectDrillServer(url);
  try {
    return await largeObjectProblems(c, m.largeObjects);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Writes a drill result to backup_runs (drill_at, drill) when the table and the row exist. */
export async function recordDrill(url: string, r: DrillResult): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, application_name: 'tickethub-drill' });
  await c.connect();
  c.on('error', () => {});
  try {
    if (!(await hasBackupRuns(c))) return false;
    return await recordDrillResult(c, r.id, r.finishedAt, r);
  } finally {
    await c.end().catch(() => {});
  }
}

/** BACKUP_DRILL (off | weekly | daily), default weekly; anything else is a config error. */
export function drillPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): DrillPolicy {
  const v = (env.BACKUP_DRILL ?? '').trim().toLowerCase();
  if (v === '') return 'weekly';
  if (v === 'off' || v === 'weekly' || v === 'daily') return v;
  throw new AppError('config', `BACKUP_DRILL must be off, weekly or daily, got ${JSON.stringify(env.BACKUP_DRILL)}`);
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Whether a scheduled drill is due: never with 'off'; with 'daily'/'weekly' when no drill ran yet
 * or the last one is at least a day/a week old. A clock that went backwards (last drill "in the
 * future") counts as due, so a bad clock cannot silence drills forever.
 */
export function scheduledDrillDue(policy: DrillPolicy, lastDrillAt: Date | string | null | undefined, now: Date = new Date()): boolean {
  if (policy === 'off') return false;
  if (!lastDrillAt) return true;
  const last = new Date(lastDrillAt).getTime();
  if (!Number.isFinite(last)) return true;
  const age = now.getTime() - last;
  if (age < 0) return true;
  return age >= (policy === 'daily' ? DAY_MS : 7 * DAY_MS);
}
