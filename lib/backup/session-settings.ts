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
];

/**
 * SQL that pins COPY_OUTPUT_SETTINGS on a session (`local`: `SET LOCAL`, only for the current
 * transaction, which must be open). One string of several statements (simple query protocol).
 */
export function copyOutputSettingsSql(local = false): string {
  return COPY_OUTPUT_SETTINGS.map(([k, v]) => `SET ${local ? 'LOCAL ' : ''}${k} = '${v}'`).join('; ');
}
