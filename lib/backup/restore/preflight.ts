import { existsSync } from 'node:fs';
import pg from 'pg';
import { latestMigrationName } from '../../db/migrate';
import { AppError, oneLine, toAppError } from '../../errors';
import type { StorageBackend } from '../../storage/storage-backend';
import type { ArchiveSource } from '../archive-reader';
import type { ArchiveSpool } from '../archive-spool';
import { checkArchiveSha, checkArchiveSize, fileArchiveSource, storageArchiveSource } from '../archive-reader';
import type { Manifest, ManifestTable } from '../manifest';
import { BACKUP_ID_RE, manifestProblems, parseManifest } from '../manifest';
import { checkManifestSignature, signingKeyFromEnv, UNSIGNED_WARNING } from '../manifest-signature';
import type { CheckedBackup, RestoreCommonOptions, RestoreMode, RestoreOptions } from './restore-types';
import { qualifiedName } from '../catalog/quote-ident';
import { turnOffSessionLimits } from '../session-settings';

/**
 * Restore, phase 1: everything checked before the target is touched — the arguments, the source
 * (backup id or archive file), its manifest (format version, consistency), the archive's size, the
 * migration level; then the connection to the target. The archive's SHA-256 (a read of the whole
 * archive) runs beside the next phases (startArchiveCheck) and gates the COMMIT (atomic) or the
 * first statement (--jobs). Mode-specific readiness of the target (empty? dependents? tables
 * present?) is each planner's first step.
 */

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

/** Is the backup's migration level newer than the newest migration this app ships? */
export function migrationNewer(backup: string | null, app: string | null): boolean {
  if (!backup || !app) return false;
  const num = (s: string) => Number(/^(\d+)/.exec(s)?.[1] ?? NaN);
  const a = num(backup);
  const b = num(app);
  if (Number.isFinite(a) && Number.isFinite(b) && a !== b) return a > b;
  return backup > app;
}

/** The restore mode the options ask for; AppError 'usage' for combinations that make no sense. */
export function restoreModeOf(opts: RestoreOptions): RestoreMode {
  const mode: RestoreMode = opts.intoSchema !== undefined ? 'into-schema' : (opts.mode ?? 'fresh');
  if (opts.intoSchema !== undefined && opts.mode && opts.mode !== 'fresh') throw new AppError('usage', '--into-schema cannot be combined with --mode');
  if ((mode === 'data-only' || mode === 'into-schema') && !opts.tables?.length) throw new AppError('usage', `${mode === 'data-only' ? '--mode data-only' : '--into-schema'} needs --tables`);
  if ((mode === 'fresh' || mode === 'replace') && opts.tables?.length) throw new AppError('usage', `--tables works with --mode data-only or --into-schema, not --mode ${mode}`);
  if (mode === 'into-schema' && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(opts.intoSchema!)) throw new AppError('usage', `--into-schema: '${opts.intoSchema}' is not a plain schema name`);
  return mode;
}

/** Tables of the manifest chosen by `names` (`t` or `s.t`, names unquoted); usage/not_found errors name the culprit. */
export function selectTables(m: Manifest, names: string[]): ManifestTable[] {
  const out: ManifestTable[] = [];
  for (const raw of names) {
    const n = raw.trim();
    if (!n) continue;
    // `"s"."t"` (SQL quoting: for names with dots, commas, quotes or edge spaces, e.g. "public "),
    // else `s.t` at whichever dot makes a table (a schema or table name may hold dots), else a bare name.
    const quoted = parseQuotedName(n);
    const qualified = quoted ? m.tables.filter((t) => t.name === quoted.name && (quoted.schema === null || t.schema === quoted.schema)) : m.tables.filter((t) => `${t.schema}.${t.name}` === n);
    const matches = quoted || qualified.length ? qualified : m.tables.filter((t) => t.name === n);
    if (matches.length === 0) {
      const leaves = partitionsOf(m, n);
      if (leaves.length) throw new AppError('usage', `table ${n} is partitioned: its rows are in its partitions; name those (--tables ${leaves.map((t) => qualifiedName(t.schema, t.name)).join(',')})`);
      throw new AppError('not_found', `table ${n} is not in backup ${m.id}`);
    }
    if (matches.length > 1) throw new AppError('usage', `table name ${n} is ambiguous in backup ${m.id} (${matches.map((t) => `${t.schema}.${t.name}`).join(', ')}): qualify it`);
    if (!out.includes(matches[0])) out.push(matches[0]);
  }
  if (out.length === 0) throw new AppError('usage', '--tables names no table');
  return out;
}

/**
 * `--tables a,"b,c".d` → ['a', '"b,c".d']: commas inside double quotes belong to the name. A quote
 * left open is refused (its name would otherwise be cut somewhere the user did not mean).
 */
export function splitTableList(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new AppError('usage', `--tables ${s}: a double quote is not closed`);
  out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

/**
 * `"s"."t"`, `"s".t`, `s."t"` or `"t"` (a double quote inside a quoted name doubled, as in SQL; an
 * unquoted part taken as written): its parts; null when `n` holds no double quote or is not that shape.
 */
export function parseQuotedName(n: string): { schema: string | null; name: string } | null {
  if (!n.includes('"')) return null;
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part = '';
    if (n[i] === '"') {
      for (i++; ; i++) {
        if (i >= n.length) return null;
        if (n[i] === '"') {
          if (n[i + 1] !== '"') break;
          i++;
        }
        part += n[i];
      }
      i++;
    } else {
      const end = n.indexOf('.', i);
      part = n.slice(i, end === -1 ? n.length : end);
      if (part.includes('"') || part === '') return null;
      i += part.length;
    }
    parts.push(part);
    if (i === n.length) break;
    if (n[i] !== '.') return null;
    i++;
  }
  if (parts.length > 2) return null;
  return parts.length === 2 ? { schema: parts[0], name: parts[1] } : { schema: null, name: parts[0] };
}

/**
 * The partitions holding the rows of partitioned table `n` (`t`, `s.t` or SQL-quoted `"s"."t"`),
 * through every level, from the archive's TABLE and TABLE ATTACH entries; [] when `n` is no such table.
 */
export function partitionsOf(m: Manifest, n: string): ManifestTable[] {
  const entries = m.entries ?? [];
  const quoted = parseQuotedName(n);
  const root = entries.find((e) =>
    e.kind === 'TABLE' && e.schema !== null && (quoted ? e.name === quoted.name && (quoted.schema === null || e.schema === quoted.schema) : `${e.schema}.${e.name}` === n || e.name === n),
  );
  if (!root) return [];
  const out: ManifestTable[] = [];
  const seen = new Set<string>();
  for (const stack = [root.name]; stack.length; ) {
    const parent = stack.pop()!;
    for (const a of entries) {
      if (a.kind !== 'TABLE ATTACH' || a.table !== parent || a.schema === null || seen.has(`${a.schema}.${a.name}`)) continue;
      seen.add(`${a.schema}.${a.name}`);
      const leaf = m.tables.find((t) => t.schema === a.schema && t.name === a.name);
      if (leaf) out.push(leaf);
      else stack.push(a.name);
    }
  }
  return out.sort((a, b) => (a.schema === b.schema ? (a.name < b.name ? -1 : 1) : a.schema < b.schema ? -1 : 1));
}

/** The outcome of preflight: a checked backup, or (`restore <file> --force`) an archive without manifest. */
export type PreflightResult = ({ kind: 'manifest'; archiveChecked?: true } & CheckedBackup) | { kind: 'script'; source: ArchiveSource; file: string; warnings: string[] };

/**
 * Reads and checks the backup: the manifest must exist (an archive FILE without one is loaded as a
 * plain script only with `force` in fresh mode), parse in a format version this code reads, be
 * internally consistent, not come from a newer migration than the app's (unless `force`), and the
 * archive must have exactly its size. Its SHA-256 is checked by startArchiveCheck, which the caller
 * runs beside its next steps (an encrypted archive: here, `archiveChecked`). With `spool`, an
 * archive whose ranges are expensive is spooled by that check (the caller disposes of the spool).
 */
export async function preflight(opts: RestoreCommonOptions, mode: RestoreMode, spool?: ArchiveSpool): Promise<PreflightResult> {
  const resolved = resolveSource(opts.source, opts.storage);
  // Many ranged reads ahead (--jobs) of an archive whose ranges are expensive (encrypted): the
  // SHA-256 check (startArchiveCheck) is its one read; the spool serves every range after it.
  const source = spool ? await spool.wrap(resolved) : resolved;
  let text: string;
  try {
    text = await source.manifestText();
  } catch (err) {
    if ((err as AppError).code !== 'not_found' || !isArchivePath(opts.source) || !existsSync(opts.source)) throw err;
    if (!opts.force || mode !== 'fresh') {
      throw new AppError('not_found', `${oneLine((err as Error).message)}: without it nothing can be checked; pass --force to load the archive as a plain script (fresh mode, one transaction, no checks)`, { cause: err });
    }
    // Nothing authenticates an archive without its manifest: with a key configured, refuse it.
    if (signingKeyFromEnv()) throw new AppError('corrupt', `${oneLine((err as Error).message)}: BACKUP_SIGNING_KEY is set and an archive without its signed manifest cannot be authenticated`, { cause: err });
    return { kind: 'script', source, file: opts.source, warnings: [UNSIGNED_WARNING] };
  }
  const manifest = parseManifest(text, source.label);
  const warnings = checkManifest(manifest, source.id, source.label);
  const appLevel = await latestMigrationName().catch(() => null);
  if (migrationNewer(manifest.app.migration, appLevel) && !opts.force) {
    throw new AppError('incompatible', `backup ${manifest.id} was taken at migration ${manifest.app.migration}, newer than this app's ${appLevel}: upgrade the app or pass --force`);
  }
  // An encrypted archive is checked whole now, as before: its first read is where a wrong or
  // missing identity shows, which must be refused in one line before any plan or prompt.
  if (manifest.encryption) {
    await checkArchiveSha(source, manifest, opts.signal);
    return { kind: 'manifest', source, manifest, warnings, archiveChecked: true };
  }
  await checkArchiveSize(source, manifest);
  return { kind: 'manifest', source, manifest, warnings };
}

/** The archive's SHA-256 check, running beside other work (startArchiveCheck). */
export interface ArchiveCheck {
  /** Resolves when the archive matched; rejects with AppError 'corrupt' (or 'aborted'). */
  done: Promise<void>;
  /** The check's error once the archive did not match or could not be read (undefined while running, after it matched, or when stopped). */
  failure(): unknown;
  /** The error to report for `err`, a failure of the work beside the check: a 'corrupt' one waits for the check and gives its verdict precedence (the whole archive does not match), any other stands. */
  explain(err: unknown): Promise<unknown>;
  /** Stops a check still running (the work it guarded has ended). */
  stop(): void;
}

/**
 * Starts the archive SHA-256 check (one read of the whole archive, hashing it) without waiting for
 * it: preflight has already checked the manifest and the archive's size, so the restore can connect,
 * plan and (atomic) load while it runs. Callers decide what may happen before it passes: the atomic
 * restore loads in its transaction and waits for it before COMMIT (a mismatch stops the load
 * between members and rolls back: the target is never changed by a bad archive); --jobs waits for
 * it before its first statement. For a backup with a spool, this read fills the spool.
 */
export function startArchiveCheck(checked: CheckedBackup & { archiveChecked?: true }, signal?: AbortSignal): ArchiveCheck {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let failed: unknown;
  const done = checked.archiveChecked ? Promise.resolve() : checkArchiveSha(checked.source, checked.manifest, ac.signal).finally(() => signal?.removeEventListener('abort', onAbort));
  done.catch((err: unknown) => {
    // An interrupted check is no verdict: the interruption is reported by whoever was interrupted.
    if (!ac.signal.aborted) failed = err;
  });
  return {
    done,
    failure: () => failed,
    async explain(err) {
      if ((err as AppError | undefined)?.code !== 'corrupt') return failed ?? err;
      return done.then(
        () => err,
        () => failed ?? err,
      );
    },
    stop: () => ac.abort(),
  };
}

/**
 * What is checked of a manifest before anything is built from it (restore, drills): its signature
 * (while BACKUP_SIGNING_KEY is set), that it is the manifest of backup `id` (a validly signed
 * manifest and archive of ANOTHER backup stored under this id would otherwise restore that backup
 * instead), and its internal consistency. Throws AppError 'corrupt'; returns the warnings to show
 * (the unsigned warning without a key).
 */
export function checkManifest(manifest: Manifest, id: string, label: string): string[] {
  const sig = checkManifestSignature(manifest);
  if (!sig.ok) throw new AppError('corrupt', `${label}: ${sig.message}`);
  if (manifest.id !== id) throw new AppError('corrupt', `${label}: the manifest is for backup ${String(manifest.id)}, not ${id} (another backup's files put in its place?)`);
  const mp = manifestProblems(manifest);
  if (mp.length) throw new AppError('corrupt', `${label}: manifest is inconsistent: ${mp[0].problem}${mp.length > 1 ? ` (+${mp.length - 1} more)` : ''}`);
  return sig.state === 'unchecked' ? [sig.message] : [];
}

/** A connection to the target; `lost()` returns the error that broke it, if any. */
export interface TargetConnection {
  client: pg.Client;
  lost(): unknown;
}

/** Connects to the target (AppError naming it, without credentials, when that fails). */
export async function connectTarget(url: string): Promise<TargetConnection> {
  const client = new pg.Client({ connectionString: url, application_name: 'tickethub-restore' });
  try {
    await client.connect();
  } catch (err) {
    throw toAppError(err, `cannot connect to the target ${redactTarget(url)}`);
  }
  let lost: unknown;
  // Before anything else (the plan's queries, an index build, a worker waiting for its next task):
  // the target's timeouts off, search_path '' (session-settings.ts turnOffSessionLimits).
  await turnOffSessionLimits(client)
    .catch(async (err: unknown) => {
      await client.end().catch(() => {});
      throw toAppError(err, `cannot prepare the session on the target ${redactTarget(url)}`);
    });
  client.on('error', (err) => {
    lost ??= err;
  });
  return { client, lost: () => lost };
}
