import { runBackup, formatBytes } from '../../lib/backup/run-backup';
import { openCliDatabase } from '../../lib/db/local-database';
import { openStorage } from '../../lib/storage/open-storage';
import { tableCountLabel } from '../../lib/backup/table-count-label';
import { integerOption, parseCommandArgs } from '../parse-command-args';
import { ProgressBar, formatDuration } from '../progress-bar';

export const summary = 'back up the database into storage (one snapshot, plain-SQL archive + manifest)';

const USAGE = `Usage: tickethub-backup backup [--database-url URL] [--storage URL] [--description TEXT] [--workers N] [--no-verify] [--json]

  --database-url URL   database to back up (default: DATABASE_URL, else the local
                       database of 'npm start' in .data/pg)
  --storage URL        file:///dir, a directory, or s3://bucket/prefix (default: BACKUP_STORAGE_URL, else .data/backups)
  --description TEXT   note stored with the backup
  --workers N          parallel COPY connections on the one snapshot (default 2)
  --no-verify          skip reading the stored archive back before calling it succeeded
                       (by default its bytes must be identical to what was written: size and
                       SHA-256; 'verify ID' also decompresses and checks every member)
  --json               print one JSON object (id, status, location, tables, rows, sizeBytes, durationMs, sha256)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      'database-url': { type: 'string' },
      storage: { type: 'string' },
      description: { type: 'string' },
      workers: { type: 'string' },
      'no-verify': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const workers = integerOption(values.workers, '--workers', 1, 16);
  const db = await openCliDatabase(values['database-url'] as string | undefined);
  const url = db.url;
  const storage = openStorage(values.storage as string | undefined);
  const bar = values.json ? undefined : new ProgressBar();
  const ac = new AbortController();
  // Ctrl-C/SIGTERM: stop, remove what was written, record the run as failed, exit 1. Another
  // signal while that cleanup runs must not kill it half-way (a partial archive, a run left
  // 'running'): it is absorbed.
  const onSignal = () => {
    if (ac.signal.aborted) return;
    process.stderr.write('\ninterrupted: stopping the backup and removing what it wrote…\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await runBackup({
      databaseUrl: url,
      storage,
      trigger: 'cli',
      description: (values.description as string | undefined) ?? '',
      workers,
      verify: !values['no-verify'],
      signal: ac.signal,
      onProgress: bar ? (p) => bar.backup(p) : undefined,
    });
    bar?.done();
    for (const w of r.warnings ?? []) process.stderr.write(`tickethub-backup backup: warning: ${w}\n`);
    if (values.json) {
      const { id, status, location, tables, rows, sizeBytes, durationMs, sha256 } = r;
      const enc = r.manifest.encryption;
      process.stdout.write(`${JSON.stringify({ id, status, location, tables, rows, sizeBytes, durationMs, sha256, verified: r.verification?.ok ?? null, verifiedScope: r.verification?.scope ?? null, encrypted: Boolean(enc), ...(enc ? { recipients: enc.recipients, ciphertextSha256: enc.ciphertext.sha256 } : {}), ...(r.warnings ? { warnings: r.warnings } : {}) })}\n`);
    } else {
      const enc = r.manifest.encryption;
      const verified = r.verification ? `\n  verified: ${r.verification.proved}; \`verify ${r.id}\` also decompresses and checks every member` : '\n  not verified (--no-verify)';
      process.stdout.write(
        `backup ${r.id} succeeded: ${r.rows.toLocaleString('en-US')} rows in ${tableCountLabel(r.manifest.tables)}, ${formatBytes(r.sizeBytes)} in ${formatDuration(r.durationMs)}${verified}\n  ${r.location}\n  sha256 ${r.sha256}${enc ? ` (of the gzip inside)\n  encrypted (age) for ${enc.recipients.length} recipient(s); ciphertext sha256 ${enc.ciphertext.sha256}` : ''}\n`,
      );
    }
    return 0;
  } finally {
    bar?.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await storage.close();
    await db.close();
  }
}
