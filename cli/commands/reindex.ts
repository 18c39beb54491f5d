import { reindex } from '../../lib/backup/reindex';
import { openCliDatabase } from '../../lib/db/local-database';
import { openStorage } from '../../lib/storage/open-storage';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'rebuild the backup_runs table from the manifests in storage';

const USAGE = `Usage: tickethub-backup reindex [--database-url URL] [--storage URL] [--json]

  --database-url URL   the app database holding backup_runs (default: DATABASE_URL, else the local
                       database of 'npm start' in .data/pg)
  --storage URL        file:///dir, a directory, or s3://bucket/prefix (default: BACKUP_STORAGE_URL, else .data/backups)
  --json               print the result as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'database-url': { type: 'string' }, storage: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const db = await openCliDatabase(values['database-url'] as string | undefined);
  const url = db.url;
  const storage = openStorage(values.storage as string | undefined);
  try {
    const r = await reindex(storage, url);
    if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      process.stdout.write(`reindexed ${storage.location}: ${r.upserted.length} backup(s) recorded, ${r.missing.length} missing from storage marked failed, ${r.failed.length} failure(s) recorded while the database was down folded in, ${r.skipped.length} skipped\n`);
      for (const s of r.skipped) process.stdout.write(`  skipped ${s.id}: ${s.reason}\n`);
      for (const id of r.missing) process.stdout.write(`  missing ${id}\n`);
      for (const id of r.failed) process.stdout.write(`  failed ${id} (from ${id}.failed.json)\n`);
    }
    return 0;
  } finally {
    await storage.close();
    await db.close();
  }
}
