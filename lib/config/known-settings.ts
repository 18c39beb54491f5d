/**
 * The environment variables of TicketHub Backup with its own prefixes (the README's configuration
 * table; test/start/unknown-settings.test.ts keeps the two equal). A misspelt one is silently
 * ignored by anything that reads process.env — BACKUP_ENCRYPTION_RECIPIENT=age1… (no S) meant every
 * backup was stored unencrypted while the operator believed otherwise — so every entry point (npm
 * start, the CLI, the web app's start) names a BACKUP_* / TICKETHUB_* variable that is not one of
 * these. Other prefixes (SESSION_, S3_, …) are shared with other software and not judged.
 */
export const KNOWN_SETTINGS: ReadonlySet<string> = new Set([
  'BACKUP_STORAGE_URL',
  'BACKUP_SCHEMAS',
  'BACKUP_REFERENCED_DATA',
  'BACKUP_WORKERS',
  'BACKUP_CHUNK_MB',
  'BACKUP_GZIP_LEVEL',
  'BACKUP_SIGNING_KEY',
  'BACKUP_SPOOL_DIR',
  'BACKUP_SCHEDULE',
  'BACKUP_TZ',
  'BACKUP_RETENTION_DAYS',
  'BACKUP_RETENTION_MIN',
  'BACKUP_KEEP_DAILY',
  'BACKUP_KEEP_WEEKLY',
  'BACKUP_KEEP_MONTHLY',
  'BACKUP_ENCRYPTION_RECIPIENTS',
  'BACKUP_ENCRYPTION_IDENTITY',
  'BACKUP_DRILL',
  'BACKUP_MAX_AGE_HOURS',
  'BACKUP_ALERT_WEBHOOK_URL',
  'BACKUP_ALERT_LOCALE',
  'TICKETHUB_DATA_DIR',
  'TICKETHUB_DEBUG',
  'TICKETHUB_CLI_TSX',
  'TICKETHUB_RESTORE_COPY',
  'TICKETHUB_DEBUG_CLI_PATH',
]);

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * One line per BACKUP_* / TICKETHUB_* variable of `env` that is not a setting (sorted), with the
 * setting it resembles. Values are never shown: a misspelt secret is still a secret.
 */
export function unknownSettingWarnings(env: Record<string, string | undefined> = process.env): string[] {
  const out: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!/^(BACKUP|TICKETHUB)_/.test(name) || KNOWN_SETTINGS.has(name)) continue;
    let best: string | undefined;
    let bestDistance = 4; // at most 3 edits away
    for (const k of KNOWN_SETTINGS) {
      const d = distance(name, k);
      if (d < bestDistance) [best, bestDistance] = [k, d];
    }
    out.push(`${name} is not a setting and is ignored${best ? ` (did you mean ${best}?)` : ''}`);
  }
  return out;
}
