import pg from 'pg';
import { pruneBackups, retentionSettings } from '../../lib/backup/prune';
import { openCliDatabase } from '../../lib/db/local-database';
import { toAppError } from '../../lib/errors';
import { openStorage } from '../../lib/storage/open-storage';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'apply the retention policy: every backup with keep/remove and why (--dry-run changes nothing)';

const USAGE = `Usage: tickethub-backup prune [--dry-run] [--json] [--database-url URL] [--storage URL]

Applies the retention policy the scheduled job applies: BACKUP_RETENTION_DAYS (30), BACKUP_RETENTION_MIN (7),
BACKUP_KEEP_DAILY / BACKUP_KEEP_WEEKLY / BACKUP_KEEP_MONTHLY (0 = off). A backup whose verification or
drill failed never counts as good. Removed backups stay in the history as 'deleted'.

  --dry-run            print the plan, delete nothing
  --json               print {items, kept, removed, failed} as JSON
  --database-url URL   the app database holding backup_runs (default: DATABASE_URL, else the local database of 'npm start')
  --storage URL        file:///dir, a directory, or s3://bucket/prefix (default: BACKUP_STORAGE_URL, else .data/backups)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, 'database-url': { type: 'string' }, storage: { type: 'string' } },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const policy = retentionSettings();
  const storage = openStorage(values.storage as string | undefined);
  const db = await openCliDatabase(values['database-url'] as string | undefined);
  const client = new pg.Client({ connectionString: db.url, application_name: 'tickethub-backup prune' });
  client.on('error', () => {});
  try {
    try {
      await client.connect();
    } catch (err) {
      throw toAppError(err, 'cannot connect to the database');
    }
    const r = await pruneBackups(client, storage, { ...policy, now: new Date(), dryRun: Boolean(values['dry-run']) });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ dryRun: Boolean(values['dry-run']), ...r })}\n`);
    } else {
      const w = Math.max(2, ...r.items.map((i) => i.id.length));
      for (const i of r.items) process.stdout.write(`${i.action === 'keep' ? 'keep  ' : values['dry-run'] ? 'would remove' : 'remove'}  ${i.id.padEnd(w)}  ${i.reason}\n`);
      const removed = values['dry-run'] ? r.items.filter((i) => i.action === 'remove').length : r.removed.length;
      process.stdout.write(`${values['dry-run'] ? 'dry run: would remove' : 'removed'} ${removed}, kept ${r.kept}${r.failed.length ? `, could not remove ${r.failed.length}` : ''}\n`);
      for (const f of r.failed) process.stderr.write(`  could not remove ${f.id}: ${f.error}\n`);
    }
    return r.failed.length ? 1 : 0;
  } finally {
    await client.end().catch(() => {});
    await storage.close();
    await db.close();
  }
}
