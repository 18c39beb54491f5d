import { createHash } from 'node:crypto';
import { AppError, oneLine } from '../errors';
import type { ExternalDependency } from './catalog/external-deps';
import type { SchemaFingerprint } from './catalog/schema-fingerprint';
import { quoteIdentAlways } from './catalog/quote-ident';

/**
 * The backup archive format, version 1 — the contract between the writer (backup engine), the
 * readers (verify, restore, drills) and operators who restore with nothing but `gunzip | psql`.
 *
 * A backup `<id>` is two objects in storage:
 *
 *  - `<id>.sql.gz` — a sequence of gzip members. Concatenated and decompressed (plain `gunzip -c`)
 *    they form one PostgreSQL script that `psql -v ON_ERROR_STOP=1 -d <empty db>` loads:
 *      1. `header`     SET statements (like pg_dump's plain format), search_path ''.
 *      2. `pre-data`   one member per object (schema, extension, type, sequence, table, function,
 *                      view, materialized view WITH NO DATA, ...) in dependency order; every name
 *                      schema-qualified and quoted.
 *      3. `table-data` one member per table chunk: exactly
 *                        `COPY "s"."t" ("a", "b") FROM stdin;\n` + rows (COPY text format) + `\\.\n`
 *                      A large table is split into several chunks (ctid ranges), each its own
 *                      member with its own COPY header, chunks of one table in ctid order.
 *                      The writer emits tables biggest first (its work order); readers must not
 *                      assume any table order. Rows are COPY text as produced with
 *                      client_encoding UTF8, DateStyle ISO, IntervalStyle postgres,
 *                      extra_float_digits 3, TimeZone UTC (session-settings.ts: one list for
 *                      the backup and every re-read), synchronize_seqscans off (physical order).
 *      4. `sequence-set` one member: `SELECT pg_catalog.setval(...)` for every sequence.
 *      5. `post-data`  one member per object: primary/unique/exclusion keys, indexes, foreign
 *                      keys, triggers, rules, policies, `REFRESH MATERIALIZED VIEW`, ...
 *    No psql meta-command (`\connect`, `\restrict`) appears anywhere: our own restorer executes SQL
 *    members with the simple query protocol and feeds table-data rows through COPY FROM STDIN.
 *
 *  - `<id>.manifest.json` — this file's `Manifest`, written LAST. A backup without a manifest does
 *    not exist (it is incomplete and never listed as succeeded).
 *
 * Byte ranges (`offset`, `length`) are of the compressed archive, so a reader can fetch and
 * decompress one member alone (`storage.get(key, {start, end})` + gunzip).
 */
export const ARCHIVE_FORMAT = 'tickethub-backup';
/**
 * The version this code WRITES. What it reads is MANIFEST_READERS below (every version ever written).
 * v2 (issue 8) adds, after the other post-data objects, the members 'OWNER' (ALTER ... OWNER TO, one
 * per schema), 'ACL' (privileges, one per schema), 'DEFAULT ACL' (per schema and role) and
 * 'PUBLICATION' (membership), and the manifest fields `roles`, `externalDependencies`, `warnings`.
 */
export const ARCHIVE_FORMAT_VERSION = 3;

/**
 * v3 (issue 9, catalogs of thousands of tables): consecutive 'pre-data' / 'post-data' objects are
 * packed into one gzip member (up to GROUP_RAW_BYTES of SQL) instead of one member each. Every
 * object keeps its own manifest entry (kind, names, SHA-256 of its own text, its rawLength); the
 * entries of one member share its `offset` and `length` and say where their text starts inside
 * the decompressed member (`part`). The archive stays one psql script (the same bytes concatenated);
 * readers decompress a packed member once and hand out each object's slice, checked against its
 * own SHA-256 before it runs. v3 manifests are stored with their summary (everything but
 * tables, entries, schemaFingerprint and largeObjects) on the FIRST LINE, so `list` reads that line
 * alone (readManifestSummary) instead of a manifest that is larger than the archive on such catalogs.
 */
export const GROUP_RAW_BYTES = 64 * 1024;

/**
 * The largest decompressed size of any member but table data (header, schema objects, the
 * sequence-set member, large objects' SQL; a packed member as a whole): what readers hold in memory
 * at once to check it before it runs. The writer's are far smaller (a packed member is about
 * GROUP_RAW_BYTES, a large-object member at most 8 MiB); a manifest that records more is refused,
 * and a member that decompresses to more than its entry records is stopped there (a gzip bomb).
 */
export const SQL_MEMBER_MAX_BYTES = 64 << 20;

export type EntrySection = 'header' | 'pre-data' | 'table-data' | 'sequence-set' | 'post-data';
const SECTIONS: readonly unknown[] = ['header', 'pre-data', 'table-data', 'sequence-set', 'post-data'] satisfies EntrySection[];

export interface ManifestEntry {
  /** Position in the archive (0-based, archive order). */
  index: number;
  section: EntrySection;
  /**
   * Object kind as pg_dump names it: 'HEADER', 'SCHEMA', 'EXTENSION', 'TYPE', 'DOMAIN', 'SEQUENCE',
   * 'TABLE', 'FUNCTION', 'PROCEDURE', 'VIEW', 'MATERIALIZED VIEW', 'COMMENT', 'TABLE DATA',
   * 'SEQUENCE SET', 'CONSTRAINT', 'FK CONSTRAINT', 'INDEX', 'TRIGGER', 'POLICY', 'ROW SECURITY',
   * 'MATERIALIZED VIEW DATA', 'RULE', 'DEFAULT', 'SEQUENCE OWNED BY', ...
   */
  kind: string;
  /** Schema of the object (null for schema-less objects: the header, extensions' own entry ...). */
  schema: string | null;
  /** Object name (for table-data: the table name; for a constraint/index/trigger: its own name). */
  name: string;
  /** For objects that belong to a table (constraints, indexes, triggers, policies): that table. */
  table?: string;
  /** Offset of the gzip member in the compressed archive. */
  offset: number;
  /** Compressed length of the member in bytes. */
  length: number;
  /** Uncompressed length in bytes. */
  rawLength: number;
  /** Hex SHA-256 of the member's uncompressed content (of this object's slice when `part` is set). */
  sha256: string;
  /**
   * table-data only (backups since 2026-12): hex SHA-256 of the member's COMPRESSED bytes, the
   * `length` bytes at `offset` (of the decrypted gzip stream when the archive is encrypted). A
   * restore checks a member by it instead of hashing the decompressed bytes (a fraction of them:
   * 155 of 659 MB on tickethub_bench); verify checks both. Inflating is deterministic, so the same
   * compressed bytes are the same content.
   */
  gzSha256?: string;
  /**
   * v3+: this object shares its gzip member with its neighbours (same offset and length): its text
   * is the `rawLength` bytes starting at byte `part` of the decompressed member. The parts of a
   * member are consecutive entries, starting at 0, tiling the member's decompressed bytes.
   */
  part?: number;
  /** table-data only: rows in this chunk. */
  rows?: number;
  /** table-data only: 0-based chunk number within its table. */
  chunk?: number;
  /** table-data only: the COPY header line of the chunk, without its trailing newline. */
  copy?: string;
}

export interface ManifestTable {
  schema: string;
  name: string;
  /** Rows across all chunks. */
  rows: number;
  /** Column names in COPY order (generated columns excluded, as COPY excludes them). */
  columns: string[];
  /** Archive indexes of this table's table-data entries, in order. */
  entries: number[];
  /**
   * Hex SHA-256 over the chunks' `sha256` values (hex, each followed by '\n', in chunk order): the
   * table's content fingerprint from the bytes written. A drill re-reads the restored table in
   * physical order (synchronize_seqscans off), re-chunks it by the manifest's per-chunk row counts,
   * rebuilds each member's bytes (copy line + rows + `\\.\n`) and compares.
   */
  contentSha256: string;
  /** Whether the table's data was excluded (e.g. backup_runs): definition only, no rows. */
  dataExcluded?: boolean;
  /**
   * v2+: a table OUTSIDE the backed-up schemas (e.g. auth.users) whose rows the backup carries
   * because backed-up tables reference it (BACKUP_REFERENCED_DATA=include): data only, no
   * definition in the archive; restored into the target's existing table when that table is empty.
   */
  referenced?: boolean;
}

export interface Manifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  id: string;
  /** ISO 8601 UTC. */
  startedAt: string;
  finishedAt: string;
  /** 'cron' | 'manual' | 'cli' */
  trigger: string;
  description: string;
  source: {
    /** server_version, e.g. '15.19 (Debian 15.19-0+deb12u1)' */
    serverVersion: string;
    /** server_version_num, e.g. 150019 */
    serverVersionNum: number;
    database: string;
    /** Schemas backed up. */
    schemas: string[];
    encoding: string;
  };
  app: {
    version: string;
    /** Latest applied migration of the source database (null when it has none: a foreign db). */
    migration: string | null;
  };
  archive: {
    /** Storage key of the archive, e.g. '20261125T020000Z-ab12cd.sql.gz'. */
    key: string;
    sizeBytes: number;
    sha256: string;
    rawBytes: number;
  };
  tables: ManifestTable[];
  totals: { tables: number; rows: number };
  entries: ManifestEntry[];
  /**
   * Present when the archive is stored age-encrypted (BACKUP_ENCRYPTION_RECIPIENTS) as
   * `<id>.sql.gz.age` (encryptedArchiveKey; archive.key says so too). `archive.sizeBytes`/`sha256`
   * and every entry's offset, length and sha256 stay those of the DECRYPTED gzip stream; the
   * stored file is described by `ciphertext`. Byte ranges cannot be read from ciphertext: a reader
   * decrypts the whole file as a stream (lib/backup/encryption/decrypting-source.ts).
   */
  encryption?: ManifestEncryption;
  /**
   * Large objects (optional; absent when the database has none): size and SHA-256 of each one's
   * content, and `meta` (newer backups), a hash of its owner, privileges and comment. Their SQL is in 'post-data' members of kind 'LARGE OBJECTS' (named by oid range),
   * before the other post-data members (lib/backup/catalog/kinds/large-objects.ts).
   */
  largeObjects?: { oid: number; bytes: number; sha256: string; meta?: string }[];
  /**
   * Optional: relations (tables, indexes, sequences, views, TOAST tables and their indexes ...)
   * in the backed-up schemas, counted at backup time, and (`objects`, optional: absent in older
   * manifests) their types, table constraints and other locked objects (`counted: 2`: with array
   * types, routines and other schema objects, refreshed heaps; lock-budget.ts countLockedObjects):
   * the locks an atomic restore holds at once
   * (lib/backup/lock-budget.ts checks them against the target's lock table before starting).
   */
  lockEstimate?: { relations: number; objects?: number; counted?: 2 };
  /**
   * v2+: roles a restore needs (dump-security.ts): `owners` (unless --no-owner), `privileges`
   * (grantees, grantors, FOR ROLE of default privileges; unless --no-privileges), `policies`.
   */
  roles?: ManifestRoles;
  /** v2+: objects outside the backed-up schemas that backed-up objects use, with their definitions (external-deps.ts). */
  externalDependencies?: ExternalDependency[];
  /** v2+: what the backup could not do or the restore target must provide, one line each. */
  warnings?: string[];
  /**
   * v2+, optional (absent when there are none, and in older backups): publications the archive
   * creates or extends whose statements only a superuser may run — FOR ALL TABLES (when the target
   * lacks the publication) and ADD TABLES IN SCHEMA (when it does not publish that schema yet). A
   * restore by another role refuses them before touching anything (security-preflight.ts).
   */
  publications?: ManifestPublication[];
  /** v2+: catalog fingerprint of the backed-up schemas (object -> hash of definition, owner, ACL), compared by the drill (schema-fingerprint.ts). */
  schemaFingerprint?: SchemaFingerprint;
  /**
   * How the backup engine checked the stored archive before it wrote this manifest. 'stored-bytes':
   * read back from storage, the same size and SHA-256 as the bytes written (`archive`, or
   * `encryption.ciphertext` when encrypted) — no decompression (stored-check.ts). Absent: written
   * with --no-verify, or by a version without this field. `verify` and drills check the content.
   */
  checkedAfterWrite?: { scope: 'stored-bytes'; checkedAt: string };
  /**
   * Present when the backup was written with BACKUP_SIGNING_KEY: HMAC-SHA256 over the manifest's
   * canonical bytes without this field (manifest-signature.ts). Covers every member's hash (and the
   * ciphertext's, when encrypted).
   */
  signature?: ManifestSignature;
}

/** How an encrypted archive was sealed (see Manifest.encryption). */
export interface ManifestEncryption {
  method: 'age';
  /** The age recipients (public keys, age1…) it was encrypted to: any matching identity opens it. */
  recipients: string[];
  /** The stored (encrypted) file: its size and SHA-256, checkable without any key. */
  ciphertext: { sizeBytes: number; sha256: string };
}

export interface ManifestRoles {
  owners: string[];
  privileges: string[];
  /** Roles whose per-schema default privileges the archive sets (ALTER DEFAULT PRIVILEGES FOR ROLE). */
  defaultPrivileges: string[];
  /** Roles every restore needs whatever its options: those policies are for, and user mappings' roles. */
  policies: string[];
}

/** See Manifest.publications. */
export interface ManifestPublication {
  name: string;
  allTables: boolean;
  /** Backed-up schemas it publishes FOR TABLES IN SCHEMA. */
  schemas: string[];
}

/** A manifest's signature (see manifest-signature.ts). */
export interface ManifestSignature {
  algorithm: 'HMAC-SHA256';
  /** Non-secret id of the key (an HMAC of a fixed string), to tell "another key" from "changed". */
  keyId: string;
  /** Hex HMAC-SHA256. */
  value: string;
  /**
   * Hex HMAC-SHA256 of the summary alone (the manifest's first line, without the signature), so
   * `list` authenticates what it shows without reading the whole manifest. Absent in backups
   * signed before it existed (a listing then checks the whole manifest).
   */
  summary?: string;
}

/** Storage key of a backup's archive. */
export function archiveKey(id: string): string {
  return `${id}.sql.gz`;
}

/** Storage key of a backup's archive when it is stored age-encrypted. */
export function encryptedArchiveKey(id: string): string {
  return `${archiveKey(id)}.age`;
}

/**
 * The size of the archive file as stored: the ciphertext's for an encrypted backup, else the
 * gzip's. What `list`, the backups API and the dashboard show as a backup's size (what it costs in
 * storage and what a download transfers); `archive.sizeBytes` stays the decrypted gzip's.
 */
export function storedSizeBytes(m: Pick<Manifest, 'archive' | 'encryption'>): number {
  return m.encryption?.ciphertext.sizeBytes ?? m.archive.sizeBytes;
}

/** Storage key of a backup's manifest. */
export function manifestKey(id: string): string {
  return `${id}.manifest.json`;
}

/** Backup ids: `YYYYMMDDTHHMMSSZ-<6+ base36 chars>`; sort by time, safe in file names and URLs. */
export const BACKUP_ID_RE = /^[0-9]{8}T[0-9]{6}Z-[0-9a-z]{6,16}$/;

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/**
 * The statements a header member may hold (besides `-- ` comment lines): what pg_dump's plain format
 * sets, minus what does not apply. Readers refuse a header with anything else (member-check.ts), so a
 * writer that needs a new SET adds it HERE (old archives keep reading: this only ever grows).
 */
export const HEADER_STATEMENTS: readonly string[] = [
  'SET statement_timeout = 0;',
  'SET lock_timeout = 0;',
  'SET idle_in_transaction_session_timeout = 0;',
  "SET client_encoding = 'UTF8';",
  'SET standard_conforming_strings = on;',
  "SELECT pg_catalog.set_config('search_path', '', false);",
  'SET check_function_bodies = false;',
  'SET xmloption = content;',
  'SET client_min_messages = warning;',
  'SET row_security = off;',
  // session-settings.ts RESTORE_INPUT_SETTINGS, for `gunzip | psql` (our restore pins them anyway).
  'SET array_nulls = on;',
  'SET default_table_access_method = heap;',
];

/** The header member of backup `id`. */
export function headerSql(id: string): string {
  return [
    `-- TicketHub backup ${id} (${ARCHIVE_FORMAT} format v${ARCHIVE_FORMAT_VERSION})`,
    '-- Restore into an empty database: gunzip -c <this file> | psql -v ON_ERROR_STOP=1 -d <database>',
    ...HEADER_STATEMENTS,
    '',
  ].join('\n');
}

/**
 * The COPY line of a table-data member: `COPY "s"."t" ("a", "b") FROM stdin;` — every name always
 * double-quoted (format v1). Readers never take this line from storage: they build it from the
 * manifest's validated table name and columns with this function and require the member's first
 * line (and the manifest's `copy` field) to be exactly it. A name may hold a newline, so the "line"
 * may span several physical lines; it still ends at the first `FROM stdin;\n` after the names.
 */
export function copyStatement(schema: string, table: string, columns: string[]): string {
  const cols = columns.length ? ` (${columns.map(quoteIdentAlways).join(', ')})` : '';
  return `COPY ${quoteIdentAlways(schema)}.${quoteIdentAlways(table)}${cols} FROM stdin;`;
}

/** The table content fingerprint from its chunks' hex hashes (see ManifestTable.contentSha256). */
export function contentShaOf(chunkShas: string[]): string {
  const h = createHash('sha256');
  for (const s of chunkShas) h.update(`${s}\n`);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Reading: every format version ever written
// ---------------------------------------------------------------------------------------------

/**
 * One reader per format version this code can read, each turning that version's JSON into today's
 * `Manifest` (a later version's reader adds fields; an older one's fills them with what they meant
 * then). A version missing here is refused as 'incompatible' — never read "as if" it were another.
 */
const MANIFEST_READERS: Readonly<Record<number, (raw: Record<string, unknown>, label: string) => Manifest>> = {
  1: readV1,
  2: readV2,
  3: readV3,
};

/** Format versions this code reads. */
export const READABLE_FORMAT_VERSIONS: readonly number[] = Object.keys(MANIFEST_READERS).map(Number);

/**
 * Parses a manifest's text, whatever format version it has. Throws AppError 'corrupt' when it is not
 * JSON or lacks the fields a reader relies on, 'incompatible' when its format or format version is
 * not one this code reads.
 */
export function parseManifest(text: string, label: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AppError('corrupt', `${label}: manifest is not valid JSON (${oneLine((err as Error).message)})`, { cause: err });
  }
  // JSON.parse takes any depth, but JSON.stringify and every recursive reader after it exhaust the
  // stack on a value nested thousands deep; a manifest is a few levels deep.
  if (jsonDepth(text) > MAX_MANIFEST_DEPTH) throw new AppError('corrupt', `${label}: the manifest is nested more than ${MAX_MANIFEST_DEPTH} levels deep: not a backup manifest (tampered?)`);
  const m = readManifestJson(raw, label);
  summaryLineProblem(text, m, label);
  return m;
}

const MAX_MANIFEST_DEPTH = 32;

/**
 * Deepest nesting of arrays and objects in JSON text (strings skipped). A plain scan: a regular
 * expression for JSON strings overflowed the stack on one string of a few hundred MB ("Maximum call
 * stack size exceeded" instead of a line about the manifest).
 */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * A v3 manifest's first line is what `list` (and retention) read alone: it must say what the whole
 * manifest says. JSON takes the LAST of duplicate keys, so a first line can show other values than
 * the body (which the signature covers) holds. Throws AppError 'corrupt' when they disagree.
 */
function summaryLineProblem(text: string, m: Manifest, label: string): void {
  const nl = text.indexOf('\n');
  if (nl === -1 || nl === text.length - 1) return;
  const summary = parseManifestSummary(text.slice(0, nl + 1), label);
  if (!summary) return;
  const full = m as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(summary), ...Object.keys(full).filter((k) => !['tables', 'entries', 'schemaFingerprint', 'largeObjects'].includes(k))]);
  for (const k of keys) {
    if (JSON.stringify((summary as Record<string, unknown>)[k]) !== JSON.stringify(full[k])) {
      throw new AppError('corrupt', `${label}: the manifest's first line (what list shows) disagrees with its body on ${JSON.stringify(k.slice(0, 40))}`);
    }
  }
}

/** parseManifest for already-parsed JSON: dispatches on `formatVersion`. */
export function readManifestJson(raw: unknown, label: string): Manifest {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new AppError('corrupt', `${label}: manifest is not a JSON object`);
  const obj = raw as Record<string, unknown>;
  if (obj.format !== ARCHIVE_FORMAT) throw new AppError('incompatible', `${label}: unknown archive format ${JSON.stringify(obj.format)} (expected ${ARCHIVE_FORMAT})`);
  const v = obj.formatVersion;
  const reader = typeof v === 'number' && Number.isInteger(v) && Object.hasOwn(MANIFEST_READERS, v) ? MANIFEST_READERS[v] : undefined;
  if (!reader) {
    throw new AppError('incompatible', `${label}: unknown archive format version ${JSON.stringify(v)} (this version reads ${READABLE_FORMAT_VERSIONS.join(', ')})`);
  }
  return reader(obj, label);
}

/** Format v1: the shape written since the first release. */
function readV1(raw: Record<string, unknown>, label: string): Manifest {
  const m = raw as unknown as Manifest;
  if (!Array.isArray(m.entries) || !Array.isArray(m.tables) || !m.archive || typeof m.archive.sizeBytes !== 'number' || typeof m.archive.sha256 !== 'string') {
    throw new AppError('corrupt', `${label}: manifest lacks entries, tables or archive size/sha256`);
  }
  if (typeof m.id !== 'string') throw new AppError('corrupt', `${label}: manifest lacks its backup id`);
  // Retention, list and the dashboard sort and age backups by these: one unparsable date must not stop them all.
  for (const k of ['startedAt', 'finishedAt'] as const) {
    if (typeof m[k] !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(m[k]) || Number.isNaN(Date.parse(m[k]))) throw new AppError('corrupt', `${label}: manifest ${k} ${JSON.stringify(m[k])?.slice(0, 40)} is not a time`);
  }
  return m;
}

/** Format v2: v1 plus roles, externalDependencies and warnings (each checked for its shape: nothing from storage is trusted). */
function readV2(raw: Record<string, unknown>, label: string): Manifest {
  const m = readV1(raw, label);
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  const r = m.roles as unknown as Record<string, unknown> | undefined;
  if (r !== undefined && !(r && typeof r === 'object' && strings(r.owners) && strings(r.privileges) && strings(r.defaultPrivileges) && strings(r.policies))) {
    throw new AppError('corrupt', `${label}: manifest roles must be lists of role names`);
  }
  if (m.warnings !== undefined && !strings(m.warnings)) throw new AppError('corrupt', `${label}: manifest warnings must be a list of strings`);
  const deps = m.externalDependencies as unknown;
  const okDep = (d: Record<string, unknown>) =>
    d && typeof d === 'object' && typeof d.kind === 'string' && typeof d.name === 'string' && typeof d.schema === 'string' && strings(d.usedBy) && (d.definition === undefined || typeof d.definition === 'string');
  if (deps !== undefined && !(Array.isArray(deps) && deps.every(okDep))) throw new AppError('corrupt', `${label}: manifest externalDependencies are malformed`);
  const pubs = m.publications as unknown;
  const okPub = (p: Record<string, unknown>) => p && typeof p === 'object' && typeof p.name === 'string' && typeof p.allTables === 'boolean' && strings(p.schemas);
  if (pubs !== undefined && !(Array.isArray(pubs) && pubs.every(okPub))) throw new AppError('corrupt', `${label}: manifest publications are malformed`);
  const fp = m.schemaFingerprint as unknown;
  if (fp !== undefined && !(fp && typeof fp === 'object' && !Array.isArray(fp) && Object.values(fp).every((v) => typeof v === 'string'))) {
    throw new AppError('corrupt', `${label}: manifest schemaFingerprint is malformed`);
  }
  return m;
}

/** Format v3: v2 plus packed members (entries with `part`). */
function readV3(raw: Record<string, unknown>, label: string): Manifest {
  const m = readV2(raw, label);
  if (!m.entries.every((e) => e && typeof e === 'object' && (e.part === undefined || (Number.isInteger(e.part) && e.part >= 0)))) {
    throw new AppError('corrupt', `${label}: manifest entry with a malformed part offset`);
  }
  return m;
}

/** What a backup knows when it writes its manifest: all of it but the format stamp and the totals. */
export type ManifestContent = Omit<Manifest, 'format' | 'formatVersion' | 'totals'>;

/**
 * Today's manifest (ARCHIVE_FORMAT, ARCHIVE_FORMAT_VERSION) of what a backup wrote: the one place a
 * manifest is built, as the readers above are the one place one is read. Keys come out in the
 * stored order: the required ones, then the optional ones in the order `c` has them.
 */
export function buildManifest(c: ManifestContent): Manifest {
  const { id, startedAt, finishedAt, trigger, description, source, app, archive, tables, entries, ...optional } = c;
  const totals = { tables: tables.length, rows: tables.reduce((s, t) => s + t.rows, 0) };
  return { format: ARCHIVE_FORMAT, formatVersion: ARCHIVE_FORMAT_VERSION, id, startedAt, finishedAt, trigger, description, source, app, archive, tables, totals, entries, ...optional };
}

/**
 * The manifest's bytes as stored (`<id>.manifest.json`): compact JSON, the summary (every field but
 * the per-object lists) on the FIRST line, then the lists (one entry a line). Any JSON parser reads
 * it; `list` reads the first line only (parseManifestSummary).
 */
export function serializeManifest(m: Manifest): Buffer {
  return Buffer.concat([...manifestChunks(m)]);
}

/** Bytes per piece of manifestChunks. */
const MANIFEST_CHUNK = 64 * 1024;

/**
 * serializeManifest's bytes in pieces of about 64 KiB, for storing a manifest as a stream: a
 * 5,000-table catalog's manifest is ~12 MB, and building it as one string and one Buffer (with a
 * string per entry on the way) made its storing the backup's memory peak.
 */
export function* manifestChunks(m: Manifest): Generator<Buffer> {
  const { tables, entries, schemaFingerprint, largeObjects, ...summary } = m;
  const head = JSON.stringify(summary);
  // One generator and one growing string per piece: a nested generator per element (and a string
  // array joined per piece) was ~100 MB of garbage for a 12 MB manifest, more than the manifest.
  let text = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}\n`;
  // JSON.stringify of an array of plain objects is its elements' JSON joined by ','.
  const lists: [before: string, name: string, xs: unknown[] | undefined, sep: string][] = [
    ['', 'tables', tables, ','],
    [',\n', 'entries', entries, ',\n'],
  ];
  for (let l = 0; l < 3; l++) {
    if (l === 2) {
      if (schemaFingerprint !== undefined) text += `,\n"schemaFingerprint":${JSON.stringify(schemaFingerprint)}`;
      if (largeObjects === undefined) break;
    }
    const [before, name, xs, sep] = l < 2 ? lists[l] : [',\n', 'largeObjects', largeObjects, ','];
    text += `${before}"${name}":[`;
    for (let i = 0; i < xs!.length; i++) {
      text += i ? sep + JSON.stringify(xs![i]) : JSON.stringify(xs![i]);
      if (text.length >= MANIFEST_CHUNK) {
        yield Buffer.from(text);
        text = '';
      }
    }
    text += ']';
  }
  text += '}\n';
  yield Buffer.from(text);
}

/** What `list` needs of a manifest: everything but the per-object lists. */
export type ManifestSummary = Omit<Manifest, 'tables' | 'entries' | 'schemaFingerprint' | 'largeObjects'>;

/**
 * The summary of a v3 manifest from its first line (serializeManifest), or null when `head` does
 * not hold a complete v3 first line (older versions: read the whole manifest).
 */
export function parseManifestSummary(head: string, label: string): ManifestSummary | null {
  const nl = head.indexOf('\n');
  if (nl < 2 || head[nl - 1] !== ',') return null;
  let raw: unknown;
  try {
    raw = JSON.parse(`${head.slice(0, nl - 1)}}`);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== 'object' || (raw as Record<string, unknown>).formatVersion !== 3) return null;
  const m = readManifestJson({ ...(raw as object), tables: [], entries: [] }, label);
  const { tables: _t, entries: _e, schemaFingerprint: _f, largeObjects: _l, ...summary } = m;
  if (!summary.totals || typeof summary.totals.tables !== 'number' || typeof summary.totals.rows !== 'number') throw new AppError('corrupt', `${label}: manifest summary lacks totals`);
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Validating
// ---------------------------------------------------------------------------------------------

/** One thing wrong with a backup, tied to the object it hits when there is one. */
export interface ArchiveProblem {
  index?: number;
  kind?: string;
  schema?: string | null;
  name?: string;
  problem: string;
}

export function entryProblem(e: ManifestEntry, problem: string): ArchiveProblem {
  return { index: e.index, kind: e.kind, schema: e.schema, name: e.name, problem };
}

/** The archive's gzip members in archive order, each with the entries it holds (several when packed, v3). */
export function physicalMembers(entries: ManifestEntry[]): { offset: number; length: number; entries: ManifestEntry[] }[] {
  const out: { offset: number; length: number; entries: ManifestEntry[] }[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (e.part !== undefined && e.part > 0 && last && last.offset === e.offset && last.entries[last.entries.length - 1].part !== undefined) last.entries.push(e);
    else out.push({ offset: e.offset, length: e.length, entries: [e] });
  }
  return out;
}

/**
 * What the gzip member holding entry `e` decompresses to, by the manifest: its own rawLength, or,
 * packed (v3), up to the end of the last part of its member (`group`: that member's entries).
 * Invalid recorded lengths (manifestProblems reports them) count as 0.
 */
export function memberRawBytes(group: readonly ManifestEntry[]): number {
  const last = group[group.length - 1];
  const n = (last.part ?? 0) + last.rawLength;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Human-readable name of an entry, e.g. `TABLE DATA "public"."tickets" (chunk 2, #41)`. */
export function describeEntry(e: { index?: number; kind?: string; schema?: string | null; name?: string }): string {
  const obj = e.schema ? `${e.schema}.${e.name}` : (e.name ?? '');
  const chunk = (e as ManifestEntry).chunk !== undefined ? ` chunk ${(e as ManifestEntry).chunk}` : '';
  return `${e.kind ?? 'entry'} ${obj}${chunk}${e.index !== undefined ? ` (#${e.index})` : ''}`.trim();
}

/**
 * Internal consistency of a manifest, without reading the archive: entries numbered in archive
 * order, their byte ranges tiling the archive exactly, tables' row totals and content hashes
 * agreeing with their chunks. A manifest that fails these cannot be trusted to locate anything.
 */
export function manifestProblems(m: Manifest): ArchiveProblem[] {
  const problems: ArchiveProblem[] = [];
  let expectOffset = 0;
  let prev: ManifestEntry | undefined;
  m.entries.forEach((e, i) => {
    if (e.index !== i) problems.push(entryProblem(e, `entry at position ${i} has index ${e.index}`));
    if (!SECTIONS.includes(e.section)) problems.push(entryProblem(e, `entry of section ${JSON.stringify(e.section)}, which this version does not know`));
    if (!Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.length <= 0) {
      problems.push(entryProblem(e, `invalid byte range offset=${e.offset} length=${e.length}`));
      prev = undefined;
      return;
    }
    const p = prev;
    prev = e;
    // Readers stop a member at the size recorded here (a gzip bomb) and hold SQL members whole.
    if (!Number.isSafeInteger(e.rawLength) || e.rawLength < 0) problems.push(entryProblem(e, `invalid raw length ${JSON.stringify(e.rawLength)}`));
    else if (e.section !== 'table-data' && (e.part ?? 0) + e.rawLength > SQL_MEMBER_MAX_BYTES) problems.push(entryProblem(e, `a ${e.section} member of ${(e.part ?? 0) + e.rawLength} bytes is larger than one can be (${SQL_MEMBER_MAX_BYTES})`));
    if (e.part !== undefined) {
      if (!(m.formatVersion >= 3) || (e.section !== 'pre-data' && e.section !== 'post-data')) problems.push(entryProblem(e, `a ${e.section} object packed into a shared member (only v3 pre-data/post-data objects are)`));
      // Continues the previous entry's member, right after its text, or starts a member at byte 0.
      if (p && p.part !== undefined && e.offset === p.offset) {
        if (e.length !== p.length || e.part !== p.part + p.rawLength) problems.push(entryProblem(e, `part at byte ${e.part} does not follow the previous part of its member`));
        return;
      }
      if (e.part !== 0) problems.push(entryProblem(e, `the first part of a member starts at byte ${e.part}, not 0`));
    }
    if (e.offset !== expectOffset) problems.push(entryProblem(e, `starts at byte ${e.offset}, expected ${expectOffset} (members must tile the archive)`));
    expectOffset = e.offset + e.length;
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) problems.push(entryProblem(e, 'missing or malformed sha256'));
    if (e.gzSha256 !== undefined && (e.section !== 'table-data' || typeof e.gzSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.gzSha256))) problems.push(entryProblem(e, 'malformed gzSha256 (a table-data member\'s compressed SHA-256)'));
    if (e.section === 'table-data' && (!Number.isInteger(e.rows) || typeof e.copy !== 'string')) problems.push(entryProblem(e, 'table-data entry without rows/copy'));
  });
  problems.push(...shapeProblems(m));
  // Verify and drills check large objects against these records only when there are any: deleted
  // from the manifest, an edited large object (checksums fixed up) passed both.
  if (m.entries.some((e) => e.kind === 'LARGE OBJECTS') && !(Array.isArray(m.largeObjects) && m.largeObjects.length)) {
    problems.push({ problem: 'the archive holds large objects but the manifest records none (every backup with large objects records their sizes and SHA-256)' });
  }
  if (m.entries.length && expectOffset !== m.archive.sizeBytes) {
    problems.push({ problem: `members end at byte ${expectOffset} but the manifest says the archive has ${m.archive.sizeBytes} bytes` });
  }
  for (const t of m.tables) {
    const chunks = (t.entries ?? []).map((i) => m.entries[i]);
    if (chunks.some((c) => !c || c.section !== 'table-data')) {
      problems.push({ kind: 'TABLE', schema: t.schema, name: t.name, problem: 'table lists entries that are not its table-data members' });
      continue;
    }
    const rows = chunks.reduce((s, c) => s + (c.rows ?? 0), 0);
    if (rows !== t.rows) problems.push({ kind: 'TABLE', schema: t.schema, name: t.name, problem: `table says ${t.rows} rows but its chunks hold ${rows}` });
    if (t.contentSha256 !== contentShaOf(chunks.map((c) => c.sha256))) {
      problems.push({ kind: 'TABLE', schema: t.schema, name: t.name, problem: 'table content hash does not match its chunks\' hashes' });
    }
  }
  return problems;
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1000 && !v.includes('\u0000');

/**
 * The manifest's names and the archive's layout, checked before anything is built from them: every
 * table has a schema, a name and columns that are strings (any characters but NUL; they are only
 * ever used quoted), every table-data entry belongs to exactly the table that lists it and records
 * exactly that table's COPY line (readers never use the recorded line: they build it with
 * copyStatement and require both the member and the manifest to agree), one header first, at most
 * one sequence-set member.
 */
function shapeProblems(m: Manifest): ArchiveProblem[] {
  const problems: ArchiveProblem[] = [];
  const owner = new Map<number, ManifestTable>();
  const names = new Set<string>();
  for (const t of m.tables) {
    const at = { kind: 'TABLE', schema: String(t.schema), name: String(t.name) };
    if (!isName(t.schema) || !isName(t.name) || !Array.isArray(t.columns) || !t.columns.every(isName) || !Array.isArray(t.entries)) {
      problems.push({ ...at, problem: 'table without a valid schema, name, columns or entries' });
      continue;
    }
    const key = JSON.stringify([t.schema, t.name]);
    if (names.has(key)) problems.push({ ...at, problem: 'table listed twice in the manifest' });
    names.add(key);
    for (const i of t.entries) {
      if (owner.has(i)) problems.push({ ...at, problem: `entry #${i} is listed by two tables` });
      owner.set(i, t);
    }
  }
  m.entries.forEach((e) => {
    if (e.index === 0 ? e.section !== 'header' : e.section === 'header') problems.push(entryProblem(e, 'the header must be the first member and the only one'));
    if (e.section !== 'table-data') return;
    const t = owner.get(e.index);
    if (!t || t.schema !== e.schema || t.name !== e.name) {
      problems.push(entryProblem(e, 'table-data entry that no table of the manifest lists as its own'));
      return;
    }
    if (e.kind !== 'TABLE DATA') problems.push(entryProblem(e, `table-data entry of kind ${JSON.stringify(e.kind)}`));
    if (e.copy !== copyStatement(t.schema, t.name, t.columns)) problems.push(entryProblem(e, `the manifest's COPY line is not the COPY line of ${t.schema}.${t.name} (tampered manifest?)`));
  });
  if (m.entries.filter((e) => e.section === 'sequence-set').length > 1) problems.push({ kind: 'MANIFEST', problem: 'more than one sequence-set member' });
  return problems;
}
