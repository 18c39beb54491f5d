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
export const ARCHIVE_FORMAT_VERSION = 1;

export type EntrySection = 'header' | 'pre-data' | 'table-data' | 'sequence-set' | 'post-data';

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
  /** Hex SHA-256 of the member's uncompressed content. */
  sha256: string;
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
}

/** Storage key of a backup's archive. */
export function archiveKey(id: string): string {
  return `${id}.sql.gz`;
}

/** Storage key of a backup's manifest. */
export function manifestKey(id: string): string {
  return `${id}.manifest.json`;
}

/** Backup ids: `YYYYMMDDTHHMMSSZ-<6+ base36 chars>`; sort by time, safe in file names and URLs. */
export const BACKUP_ID_RE = /^[0-9]{8}T[0-9]{6}Z-[0-9a-z]{6,16}$/;
