import type pg from 'pg';

/**
 * The session settings that decide how PostgreSQL prints row values as COPY text. The backup reads
 * every table with them, and every re-read that compares content with the manifest's hashes
 * (restore's post-load check, drills, --jobs) must use exactly the same ones: otherwise a target
 * server (or database, or role) with other defaults prints the same values differently and the
 * comparison fails although the data is identical. TimeZone matters for timestamptz (printed in
 * the session's zone); UTC makes archives independent of the source server's configuration.
 * ONE list, used by both sides: run-backup.ts and lib/backup/restore/**.
 */
export const COPY_OUTPUT_SETTINGS: ReadonlyArray<readonly [name: string, value: string]> = [
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['TimeZone', 'UTC'],
  // bytea in hex whatever the source's or target's bytea_output (a database set to 'escape' made
  // every drill and --check-content fail: the same bytes hashed in one form, re-read in the other).
  ['bytea_output', 'hex'],
];

/**
 * SQL that pins COPY_OUTPUT_SETTINGS on a session (`local`: `SET LOCAL`, only for the current
 * transaction, which must be open). One string of several statements (simple query protocol).
 */
export function copyOutputSettingsSql(local = false): string {
  return COPY_OUTPUT_SETTINGS.map(([k, v]) => `SET ${local ? 'LOCAL ' : ''}${k} = '${v}'`).join('; ');
}

/**
 * Settings that decide how the restore's session READS the archive, pinned on every restore
 * connection (and written into the archive's header for `gunzip | psql`, manifest.ts
 * HEADER_STATEMENTS): a target database's or role's defaults must not change what is stored.
 * - array_nulls off made COPY read every NULL element of a text array ({NULL,a}) as the string
 *   'NULL': rows changed, row counts right, a default restore and `psql` green.
 * - default_table_access_method: the archive writes `USING am` only for tables whose method is
 *   not heap (as pg_dump's SET per table, which we fold into one): a target defaulting to another
 *   method (ALTER DATABASE ... SET default_table_access_method) got every heap table in it.
 * (Both exist on every server the engine reads: table access methods are PostgreSQL 12+.)
 */
export const RESTORE_INPUT_SETTINGS: ReadonlyArray<readonly [name: string, value: string]> = [
  ['array_nulls', 'on'],
  ['default_table_access_method', 'heap'],
];

/** COPY_OUTPUT_SETTINGS and RESTORE_INPUT_SETTINGS for a restore's session (`local` as in copyOutputSettingsSql). */
export function restoreSessionSettingsSql(local = false): string {
  return [...COPY_OUTPUT_SETTINGS, ...RESTORE_INPUT_SETTINGS].map(([k, v]) => `SET ${local ? 'LOCAL ' : ''}${k} = '${v}'`).join('; ');
}

/**
 * Turns off, on a fresh connection, what a target database's or role's defaults (ALTER DATABASE /
 * ALTER ROLE ... SET) would otherwise impose on it: statement_timeout, lock_timeout,
 * idle_in_transaction_session_timeout and, where the server has them, idle_session_timeout and
 * transaction_timeout (the archive's header, pg_dump's, turns them off for `psql`); search_path ''
 * as that header, so no schema of the target's path shadows the catalog tables and operators our
 * queries name. Every connection of a restore AND of a drill (scratch database creation,
 * recreated dependencies, the schema and large-object comparisons): statement_timeout '30ms' failed
 * every restore, and a role's '1s' every drill of a big backup. statement_timeout first, alone: a
 * slow catalog read must not be cut by the timeout it ends. pg_settings: older servers lack some.
 */
export async function turnOffSessionLimits(client: pg.ClientBase): Promise<void> {
  await client.query('SET statement_timeout = 0');
  await client.query(
    `SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0;
     SELECT pg_catalog.set_config(name, CASE WHEN name = 'search_path' THEN '' ELSE '0' END, false) FROM pg_catalog.pg_settings
      WHERE name IN ('idle_session_timeout', 'transaction_timeout', 'search_path')`,
  );
}
