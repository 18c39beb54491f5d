import { existsSync } from 'node:fs';
import pg from 'pg';
import { AppError, oneLine, toAppError } from '../../errors';
import { latestMigrationName } from '../../db/migrate';
import type { StorageBackend } from '../../storage/storage-backend';
import type { ArchiveSource } from '../archive-reader';
import {
  ByteReader,
  checkArchiveSha,
  describeEntry,
  fileArchiveSource,
  manifestProblems,
  parseManifest,
  readMember,
  skipBytes,
  storageArchiveSource,
} from '../archive-reader';
import type { Manifest, ManifestEntry, ManifestTable } from '../manifest';
import { BACKUP_ID_RE } from '../manifest';
import { copyMember, readSqlMember } from './load-member';
import { restoreScriptWithoutManifest } from './restore-script';
import { copyOutputSettingsSql } from '../session-settings';
import { readTableContent } from './table-content';
import {
  dropSchemaContents,
  enabledUserTriggers,
  freshConflicts,
  incomingForeignKeys,
  orphanCount,
  outsideDependents,
  touchingForeignKeys,
  ownedSequences,
  q,
  qrel,
  schemaExists,
  tableOid,
} from './target-catalog';
import type { IncomingForeignKey } from './target-catalog';

export type RestoreMode = 'fresh' | 'replace' | 'data-only' | 'into-schema';

export interface RestoreOptions {
  /** A backup id (read from `storage`) or the path of a downloaded `<id>.sql.gz`. */
  source: string;
  storage?: StorageBackend;
  targetUrl: string;
  /** Default 'fresh'. `intoSchema` implies 'into-schema'. */
  mode?: 'fresh' | 'replace' | 'data-only';
  /** data-only / into-schema: tables as `name` or `schema.name`. */
  tables?: string[];
  intoSchema?: string;
  /** data-only: also reload tables whose rows reference the chosen ones; replace: allow dropping outside dependents. */
  cascade?: boolean;
  /** Restore a backup newer than this app's migrations; restore an archive file without a manifest is still refused. */
  force?: boolean;
  /** Asked with the plan before anything changes (the CLI's confirmation prompt); false cancels. */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  onPlan?: (plan: RestorePlan) => void;
  onProgress?: (p: RestoreProgress) => void;
  signal?: AbortSignal;
  /** Skip the post-load re-read of every restored table (content hashes); row counts are still checked. */
  skipContentCheck?: boolean;
}

export interface RestorePlan {
  id: string;
  source: string;
  mode: RestoreMode;
  /** Target as `host:port/database` (no credentials). */
  target: string;
  backupStartedAt: string;
  backupMigration: string | null;
  /** Archive members that will be executed or loaded. */
  objects: number;
  tables: { schema: string; name: string; rows: number }[];
  rows: number;
  archiveBytes: number;
  /** What else happens, one line each (drops, cascades, FK handling). */
  actions: string[];
}

export interface RestoreProgress {
  phase: 'checking' | 'loading' | 'verifying';
  bytesRead: number;
  totalBytes: number;
  rowsLoaded: number;
  totalRows: number;
  tablesDone: number;
  totalTables: number;
  /** The object being worked on. */
  current?: string;
}

export interface RestoredTable {
  schema: string;
  name: string;
  expectedRows: number;
  rows: number;
  /** null when the content check was skipped. */
  contentMatches: boolean | null;
}

export interface RestoreResult {
  id: string;
  mode: RestoreMode;
  target: string;
  /** Always true when restoreBackup resolves: the one transaction committed. */
  committed: true;
  plan: RestorePlan;
  tables: RestoredTable[];
  rows: number;
  durationMs: number;
}

/** A failed restore's error says whether the target was left untouched. */
export interface RestoreFailureDetails {
  rolledBack: boolean;
  phase: 'checks' | 'transaction';
}

/** host:port/database of a connection URL, for messages (never the user or password). */
export function redactTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Whether a restore source names an archive file rather than a backup id in storage. */
export function isArchivePath(source: string): boolean {
  return source.includes('/') || source.endsWith('.gz') || existsSync(source);
}

/** Resolves `source` (id or archive path) to an ArchiveSource. */
export function resolveSource(source: string, storage?: StorageBackend): ArchiveSource {
  if (isArchivePath(source)) return fileArchiveSource(source);
  if (!BACKUP_ID_RE.test(source)) throw new AppError('usage', `'${source}' is neither a backup id (like 20261125T020000Z-ab12cd) nor an archive file`);
  if (!storage) throw new AppError('usage', `restoring backup ${source} by id needs a storage location`);
  return storageArchiveSource(storage, source);
}

/** Tables of the manifest chosen by `names` (`t` or `s.t`); usage/not_found errors name the culprit. */
export function selectTables(m: Manifest, names: string[]): ManifestTable[] {
  const out: ManifestTable[] = [];
  for (const raw of names) {
    const n = raw.trim();
    if (!n) continue;
    const dot = n.indexOf('.');
    const matches = dot > 0 ? m.tables.filter((t) => t.schema === n.slice(0, dot) && t.name === n.slice(dot + 1)) : m.tables.filter((t) => t.name === n);
    if (matches.length === 0) throw new AppError('not_found', `table ${n} is not in backup ${m.id}`);
    if (matches.length > 1) throw new AppError('usage', `table name ${n} is ambiguous in backup ${m.id} (${matches.map((t) => `${t.schema}.${t.name}`).join(', ')}): qualify it`);
    if (!out.includes(matches[0])) out.push(matches[0]);
  }
  if (out.length === 0) throw new AppError('usage', '--tables names no table');
  return out;
}

function tkey(schema: string | null, name: string): string {
  return `${schema}\u0000${name}`;
}

/** Is the backup's migration level newer than the newest migration this app ships? */
export function migrationNewer(backup: string | null, app: string | null): boolean {
  if (!backup || !app) return false;
  const num = (s: string) => Number(/^(\d+)/.exec(s)?.[1] ?? NaN);
  const a = num(backup);
  const b = num(app);
  if (Number.isFinite(a) && Number.isFinite(b) && a !== b) return a > b;
  return backup > app;
}

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches an identifier as the archive may spell it: always quoted, or bare when it needs no quotes. */
function identPattern(name: string): string {
  const quoted = reEscape(q(name));
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? `(?:${quoted}|${reEscape(name)})` : quoted;
}

/** Rewrites a table's DDL from the archive into another schema (the table and its identity sequences). */
export function rewriteInto(sql: string, t: { schema: string; name: string }, into: string): string {
  const table = new RegExp(`(?<![\\w"$])${identPattern(t.schema)}\\.${identPattern(t.name)}(?![\\w"$])`, 'g');
  const seq = new RegExp(`SEQUENCE NAME ${identPattern(t.schema)}\\.`, 'g');
  return sql.replace(table, `${q(into)}.${q(t.name)}`).replace(seq, `SEQUENCE NAME ${q(into)}.`);
}

type Action =
  | { kind: 'exec'; rewrite?: (sql: string) => string; filter?: (sql: string) => Promise<string> }
  | { kind: 'copy'; table: ManifestTable; copyLine: string }
  | { kind: 'skip' };

/**
 * Restores a backup into `targetUrl` in ONE transaction on one connection: nothing is visible to
 * others before COMMIT, and any failure (bad data, a constraint, the connection lost, Ctrl-C, the
 * process killed) leaves the target exactly as it was. Before touching the target: the manifest
 * must exist and be consistent, the archive's size and SHA-256 must match it, its format version
 * must be known and its migration level not newer than the app's (unless `force`). After the load,
 * row counts and per-table content hashes are compared with the manifest inside the transaction; a
 * mismatch rolls back. Throws AppError; `details.rolledBack` says whether a transaction was undone.
 *
 * Modes: 'fresh' (empty target), 'replace' (backed-up schemas replaced), 'data-only' (chosen
 * tables emptied and reloaded), 'into-schema' (chosen tables created in a new schema).
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const mode: RestoreMode = opts.intoSchema !== undefined ? 'into-schema' : (opts.mode ?? 'fresh');
  if (opts.intoSchema !== undefined && opts.mode && opts.mode !== 'fresh') throw new AppError('usage', '--into-schema cannot be combined with --mode');
  if ((mode === 'data-only' || mode === 'into-schema') && !opts.tables?.length) throw new AppError('usage', `${mode === 'data-only' ? '--mode data-only' : '--into-schema'} needs --tables`);
  if ((mode === 'fresh' || mode === 'replace') && opts.tables?.length) throw new AppError('usage', `--tables works with --mode data-only or --into-schema, not --mode ${mode}`);
  if (mode === 'into-schema' && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(opts.intoSchema!)) throw new AppError('usage', `--into-schema: '${opts.intoSchema}' is not a plain schema name`);

  // ---- checks that read only the backup ----
  const source = resolveSource(opts.source, opts.storage);
  let manifestText: string;
  try {
    manifestText = await source.manifestText();
  } catch (err) {
    if ((err as AppError).code !== 'not_found' || !isArchivePath(opts.source) || !existsSync(opts.source)) throw err;
    if (!opts.force || mode !== 'fresh') {
      throw new AppError('not_found', `${oneLine((err as Error).message)}: without it nothing can be checked; pass --force to load the archive as a plain script (fresh mode, one transaction, no checks)`, { cause: err });
    }
    const target = redactTarget(opts.targetUrl);
    const r = await restoreScriptWithoutManifest({ file: opts.source, targetUrl: opts.targetUrl, target, signal: opts.signal });
    const plan: RestorePlan = { id: source.id, source: source.label, mode, target, backupStartedAt: 'unknown', backupMigration: null, objects: 0, tables: [], rows: r.rows, archiveBytes: 0, actions: ['no manifest (--force): loaded as a plain script, nothing verified'] };
    return { id: source.id, mode, target, committed: true, plan, tables: r.tables, rows: r.rows, durationMs: Date.now() - started };
  }
  const m = parseManifest(manifestText, source.label);
  const mp = manifestProblems(m);
  if (mp.length) throw new AppError('corrupt', `${source.label}: manifest is inconsistent: ${mp[0].problem}${mp.length > 1 ? ` (+${mp.length - 1} more)` : ''}`);
  const appLevel = await latestMigrationName().catch(() => null);
  if (migrationNewer(m.app.migration, appLevel) && !opts.force) {
    throw new AppError('incompatible', `backup ${m.id} was taken at migration ${m.app.migration}, newer than this app's ${appLevel}: upgrade the app or pass --force`);
  }
  const chosen = mode === 'data-only' || mode === 'into-schema' ? selectTables(m, opts.tables!) : m.tables;
  for (const t of chosen) {
    if ((mode === 'data-only' || mode === 'into-schema') && t.dataExcluded) throw new AppError('usage', `backup ${m.id} holds no rows of ${t.schema}.${t.name} (its data was excluded)`);
  }
  const totalBytes = m.archive.sizeBytes;
  const progress = (p: Omit<RestoreProgress, 'totalBytes'>) => opts.onProgress?.({ ...p, totalBytes });
  await checkArchiveSha(source, m, (n) => progress({ phase: 'checking', bytesRead: n, rowsLoaded: 0, totalRows: 0, tablesDone: 0, totalTables: 0 }), opts.signal);

  // ---- connect and plan ----
  const target = redactTarget(opts.targetUrl);
  const client = new pg.Client({ connectionString: opts.targetUrl, application_name: 'tickethub-restore' });
  try {
    await client.connect();
  } catch (err) {
    throw toAppError(err, `cannot connect to the target ${target}`);
  }
  let connectionLost: unknown;
  client.on('error', (err) => {
    connectionLost ??= err;
  });
  let inTransaction = false;
  let canceller: (() => void) | undefined;
  try {
    const createdSchemas = m.entries.filter((e) => e.kind === 'SCHEMA').map((e) => e.name);
    const schemas = m.source.schemas;
    const actions: string[] = [];
    // The restored set: data-only with --cascade grows it below.
    let loadSet = new Set(chosen.map((t) => tkey(t.schema, t.name)));
    let incoming: IncomingForeignKey[] = [];
    const oids = new Map<string, number>();

    if (mode === 'fresh') {
      const c = await freshConflicts(client, schemas, createdSchemas);
      if (c.total > 0) {
        throw new AppError('conflict', `target ${target} is not empty: it has ${c.sample.join(', ')}${c.total > c.sample.length ? ` and ${c.total - c.sample.length} more` : ''}; fresh mode needs an empty database (use --mode replace to overwrite the backed-up schemas)`);
      }
    } else if (mode === 'replace') {
      const deps = await outsideDependents(client, schemas);
      if (deps.length && !opts.cascade) {
        throw new AppError('conflict', `objects outside the backed-up schemas (${schemas.join(', ')}) depend on them and would be dropped: ${deps.slice(0, 3).join('; ')}${deps.length > 3 ? ` (+${deps.length - 3} more)` : ''}; pass --cascade to drop them too`);
      }
      for (const s of schemas) {
        if (createdSchemas.includes(s)) actions.push(`drop schema ${s} (CASCADE) and recreate it from the backup`);
        else actions.push(`drop every object of schema ${s} except extensions, then recreate them from the backup`);
      }
      if (deps.length) actions.push(`also drop ${deps.length} dependent object(s) outside the backup (--cascade)`);
    } else if (mode === 'data-only') {
      for (const t of chosen) {
        const oid = await tableOid(client, t.schema, t.name);
        if (oid === null) throw new AppError('not_found', `table ${t.schema}.${t.name} does not exist in the target ${target} (data-only reloads existing tables; use --into-schema or --mode replace)`);
        oids.set(tkey(t.schema, t.name), oid);
      }
      // With --cascade, tables referencing the chosen ones are reloaded too (transitively).
      for (;;) {
        incoming = await incomingForeignKeys(client, [...oids.values()]);
        if (!opts.cascade || incoming.length === 0) break;
        let grew = false;
        for (const fk of incoming) {
          const k = tkey(fk.schema, fk.table);
          if (loadSet.has(k)) continue;
          const mt = m.tables.find((t) => t.schema === fk.schema && t.name === fk.table);
          if (!mt || mt.dataExcluded) throw new AppError('conflict', `--cascade: ${fk.schema}.${fk.table} references ${fk.refSchema}.${fk.refTable} (${fk.name}) but backup ${m.id} holds no rows of it`);
          loadSet.add(k);
          chosen.push(mt);
          oids.set(k, (await tableOid(client, fk.schema, fk.table))!);
          actions.push(`also reload ${fk.schema}.${fk.table}: it references ${fk.refSchema}.${fk.refTable} (${fk.name}) (--cascade)`);
          grew = true;
        }
        if (!grew) break;
      }
      actions.unshift(`empty ${chosen.map((t) => `${t.schema}.${t.name}`).join(', ')} (TRUNCATE) and reload their rows; reset their sequences`);
      for (const fk of incoming) {
        actions.push(`check ${fk.schema}.${fk.table} (${fk.name}) still finds every row it references; refuse otherwise`);
      }
    } else {
      if (await schemaExists(client, opts.intoSchema!)) throw new AppError('conflict', `schema ${opts.intoSchema} already exists in the target ${target}: --into-schema needs a new schema name`);
      actions.push(`create schema ${opts.intoSchema} with ${chosen.map((t) => t.name).join(', ')} (definitions without foreign keys or triggers, and rows)`);
    }
    loadSet = new Set(chosen.map((t) => tkey(t.schema, t.name)));
    const tablesByKey = new Map(m.tables.map((t) => [tkey(t.schema, t.name), t]));

    // ---- what each member does in this mode ----
    const ownedSeqOids = new Set<number>();
    const actionFor = (e: ManifestEntry): Action => {
      if (e.section === 'header') return { kind: 'exec' };
      if (mode === 'fresh' || mode === 'replace') {
        if (e.section === 'table-data') {
          const t = tablesByKey.get(tkey(e.schema, e.name))!;
          return { kind: 'copy', table: t, copyLine: e.copy! };
        }
        return { kind: 'exec' };
      }
      if (e.section === 'table-data') {
        const t = tablesByKey.get(tkey(e.schema, e.name));
        if (!t || !loadSet.has(tkey(t.schema, t.name))) return { kind: 'skip' };
        if (mode === 'into-schema') return { kind: 'copy', table: t, copyLine: rewriteInto(e.copy!, t, opts.intoSchema!) };
        return { kind: 'copy', table: t, copyLine: e.copy! };
      }
      if (mode === 'data-only') {
        if (e.section === 'sequence-set') {
          return {
            kind: 'exec',
            filter: async (sql) => {
              const keep: string[] = [];
              for (const line of sql.split('\n')) {
                const mm = /setval\('((?:[^']|'')+)'/.exec(line);
                if (!mm) continue;
                const r = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [mm[1].replace(/''/g, "'")]);
                if (r.rows[0].oid !== null && ownedSeqOids.has(Number(r.rows[0].oid))) keep.push(line);
              }
              return keep.join('\n');
            },
          };
        }
        return { kind: 'skip' };
      }
      // into-schema: the chosen tables' own definitions, keys and indexes, rewritten.
      const owner = e.kind === 'TABLE' ? tkey(e.schema, e.name) : e.table !== undefined ? tkey(e.schema, e.table) : null;
      if (!owner || !loadSet.has(owner)) return { kind: 'skip' };
      const t = tablesByKey.get(owner)!;
      if (e.kind === 'TABLE' || e.kind === 'CONSTRAINT' || e.kind === 'CHECK CONSTRAINT' || e.kind === 'INDEX') {
        return { kind: 'exec', rewrite: (sql) => rewriteInto(sql, t, opts.intoSchema!) };
      }
      return { kind: 'skip' };
    };
    const actionsByEntry = m.entries.map(actionFor);
    const objects = actionsByEntry.filter((a) => a.kind !== 'skip').length - 1; // minus the header
    const plan: RestorePlan = {
      id: m.id,
      source: source.label,
      mode,
      target,
      backupStartedAt: m.startedAt,
      backupMigration: m.app.migration,
      objects,
      tables: chosen.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows })),
      rows: chosen.reduce((s, t) => s + t.rows, 0),
      archiveBytes: totalBytes,
      actions,
    };
    opts.onPlan?.(plan);
    if (opts.confirm && !(await opts.confirm(plan))) throw new AppError('aborted', 'restore cancelled: nothing was changed');
    if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted before it started: nothing was changed');

    // ---- the one transaction ----
    await client.query('BEGIN');
    inTransaction = true;
    // Ctrl-C during a long statement (an index build): cancel it server-side so ROLLBACK can run.
    const pid = (client as unknown as { processID: number }).processID;
    const onAbort = () => {
      const c2 = new pg.Client({ connectionString: opts.targetUrl });
      c2.on('error', () => {});
      c2.connect()
        .then(() => c2.query('SELECT pg_cancel_backend($1)', [pid]))
        .catch(() => {})
        .finally(() => void c2.end().catch(() => {}));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    canceller = () => opts.signal?.removeEventListener('abort', onAbort);
    // Catalog deparsers (pg_get_constraintdef) must schema-qualify everything, as the archive does.
    await client.query(`SELECT pg_catalog.set_config('search_path', '', true)`);
    // The output settings the backup read its rows with (session-settings.ts): the post-load re-read
    // must print values exactly as they were hashed, whatever the target server's defaults.
    await client.query(copyOutputSettingsSql(true));
    // Index builds after the load get room to sort in memory; the one commit need not wait for
    // its WAL flush to be acknowledged before returning (a crash before the flush loses the whole
    // transaction, never half of it).
    await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    await client.query(`SET LOCAL synchronous_commit = off`);

    const fkToReadd: IncomingForeignKey[] = [];
    const triggersToEnable: { rel: string; name: string; enable: string }[] = [];
    if (mode === 'replace') {
      for (const s of schemas) {
        if (createdSchemas.includes(s)) {
          await client.query(`DROP SCHEMA IF EXISTS ${q(s)} CASCADE`);
        } else if (await schemaExists(client, s)) {
          for (const stmt of await dropSchemaContents(client, s)) await client.query(stmt);
        } else {
          await client.query(`CREATE SCHEMA ${q(s)}`);
        }
      }
    } else if (mode === 'data-only') {
      const allOids = chosen.map((t) => oids.get(tkey(t.schema, t.name))!);
      await client.query(`LOCK TABLE ${chosen.map((t) => qrel(t.schema, t.name)).join(', ')} IN ACCESS EXCLUSIVE MODE`);
      // Every FK touching the reloaded tables goes while they reload (rows arrive table by table,
      // in archive order) and comes back after, validated; re-read now that the tables are locked.
      for (const fk of await touchingForeignKeys(client, allOids)) {
        await client.query(`ALTER TABLE ${qrel(fk.schema, fk.table)} DROP CONSTRAINT ${q(fk.name)}`);
        fkToReadd.push(fk);
      }
      for (const trg of await enabledUserTriggers(client, allOids)) {
        await client.query(`ALTER TABLE ${trg.rel} DISABLE TRIGGER ${q(trg.name)}`);
        triggersToEnable.push(trg);
      }
      for (const o of await ownedSequences(client, allOids)) ownedSeqOids.add(o);
      // ONLY: inheritance children are tables of their own (reloaded only when chosen); without it
      // TRUNCATE would empty them too and their rows would be lost.
      await client.query(`TRUNCATE ONLY ${chosen.map((t) => qrel(t.schema, t.name)).join(', ')}`);
    } else if (mode === 'into-schema') {
      await client.query(`CREATE SCHEMA ${q(opts.intoSchema!)}`);
    }

    // Stream the archive once, member by member.
    const stream = await source.openArchive();
    const reader = new ByteReader(stream);
    const totalRows = plan.rows;
    let rowsLoaded = 0;
    let tablesDone = 0;
    const loaded = new Map<string, number>();
    try {
      for (const e of m.entries) {
        if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
        if (connectionLost) throw toAppError(connectionLost, 'lost the connection to the target');
        const a = actionsByEntry[e.index];
        const current = describeEntry(e);
        progress({ phase: 'loading', bytesRead: reader.position, rowsLoaded, totalRows, tablesDone, totalTables: chosen.length, current });
        if (a.kind === 'skip') {
          await skipBytes(reader, e.length);
          continue;
        }
        try {
          if (a.kind === 'exec') {
            let sql = await readMember(reader, e.length, (out) => readSqlMember(out, e));
            if (a.rewrite) sql = a.rewrite(sql);
            if (a.filter) sql = await a.filter(sql);
            if (sql.trim()) await client.query(sql);
          } else {
            const rows = await readMember(reader, e.length, (out) =>
              copyMember(client, out, e, a.copyLine, {
                signal: opts.signal,
                freeze: true,
                onBytes: () => progress({ phase: 'loading', bytesRead: reader.position, rowsLoaded, totalRows, tablesDone, totalTables: chosen.length, current }),
              }),
            );
            rowsLoaded += rows;
            const k = tkey(a.table.schema, a.table.name);
            loaded.set(k, (loaded.get(k) ?? 0) + rows);
            if (a.table.entries[a.table.entries.length - 1] === e.index) tablesDone++;
          }
        } catch (err) {
          const ae = toAppError(err);
          if (ae.code === 'aborted' || opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted', { cause: err });
          throw new AppError(ae.code === 'internal' ? 'db_error' : ae.code, `${current}: ${oneLine(ae.message)}`, { cause: err });
        }
      }
    } finally {
      await reader.close().catch(() => {});
      stream.destroy();
    }

    // data-only: put back the foreign keys from other tables, refusing rows left without a parent.
    if (fkToReadd.length) {
      const orphans: string[] = [];
      for (const fk of fkToReadd.filter((f) => f.incoming)) {
        const n = await orphanCount(client, fk);
        if (n > 0) orphans.push(`${n} row(s) of ${fk.schema}.${fk.table} (constraint ${fk.name}) reference rows of ${fk.refSchema}.${fk.refTable} that the backup does not have`);
      }
      if (orphans.length) throw new AppError('conflict', `${orphans.join('; ')}; pass --cascade to reload the referencing tables too`);
      for (const fk of fkToReadd) await client.query(`ALTER TABLE ${qrel(fk.schema, fk.table)} ADD CONSTRAINT ${q(fk.name)} ${fk.definition}`);
    }
    for (const trg of triggersToEnable) await client.query(`ALTER TABLE ${trg.rel} ${trg.enable} TRIGGER ${q(trg.name)}`);

    // ---- compare with the manifest, still inside the transaction ----
    const report: RestoredTable[] = [];
    const mismatches: string[] = [];
    let i = 0;
    for (const t of chosen) {
      if (t.dataExcluded) continue;
      progress({ phase: 'verifying', bytesRead: reader.position, rowsLoaded, totalRows, tablesDone: i++, totalTables: chosen.length, current: `${t.schema}.${t.name}` });
      if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
      const at = mode === 'into-schema' ? { schema: opts.intoSchema!, name: t.name } : undefined;
      let rows = loaded.get(tkey(t.schema, t.name)) ?? 0;
      let contentMatches: boolean | null = null;
      if (!opts.skipContentCheck) {
        const c = await readTableContent(client, m, t, at);
        rows = c.rows;
        contentMatches = c.contentSha256 === t.contentSha256;
      }
      if (rows !== t.rows) mismatches.push(`${t.schema}.${t.name}: ${rows} rows, backup has ${t.rows}`);
      else if (contentMatches === false) mismatches.push(`${t.schema}.${t.name}: content hash differs from the backup's`);
      report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows, contentMatches });
    }
    if (mismatches.length) {
      throw new AppError('verification_failed', `restored data does not match backup ${m.id}: ${mismatches.slice(0, 3).join('; ')}${mismatches.length > 3 ? ` (+${mismatches.length - 3} more)` : ''}`, {
        details: { tables: report },
      });
    }
    await client.query('COMMIT');
    inTransaction = false;
    return { id: m.id, mode, target, committed: true, plan, tables: report, rows: report.reduce((s, t) => s + t.rows, 0), durationMs: Date.now() - started };
  } catch (err) {
    let rolledBack = false;
    if (inTransaction) {
      try {
        await client.query('ROLLBACK');
        rolledBack = true;
      } catch {
        // The connection is gone: the server aborts the open transaction on its own.
        rolledBack = true;
      }
    }
    const ae = toAppError(err);
    const suffix = inTransaction ? ' — rolled back: target unchanged' : '';
    throw new AppError(ae.code, `${oneLine(ae.message)}${suffix}`, {
      cause: err,
      details: { ...(ae.details ?? {}), rolledBack, phase: inTransaction ? 'transaction' : 'checks' } satisfies Record<string, unknown> & RestoreFailureDetails,
    });
  } finally {
    canceller?.();
    await client.end().catch(() => {});
  }
}
