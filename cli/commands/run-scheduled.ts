import { runScheduledBackup } from '../../lib/backup/run-scheduled-backup';
import { describeResult } from '../../lib/backup/start-scheduler';
import { openCliDatabase } from '../../lib/db/local-database';
import { openStorage } from '../../lib/storage/open-storage';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'run the scheduled job once (backup, verify, retention, drill when due, alerts), once per slot';

const USAGE = `Usage: tickethub-backup run-scheduled [--database-url URL] [--storage URL] [--json]

For system cron or a Kubernetes CronJob: runs the same job as the in-process scheduler and the cron
route for the current slot of BACKUP_SCHEDULE (BACKUP_TZ). A slot that already ran is skipped
(exit 0), so running it twice, or on two machines, makes one backup. Exit 1 when the job failed.

  --database-url URL   the app database (default: DATABASE_URL, else the local database of 'npm start')
  --storage URL        file:///dir, a directory, or s3://bucket/prefix (default: BACKUP_STORAGE_URL, else .data/backups)
  --json               print the result as one JSON object`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'database-url': { type: 'string' }, storage: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const storage = openStorage(values.storage as string | undefined);
  let db: Awaited<ReturnType<typeof openCliDatabase>> | undefined;
  try {
    db = await openCliDatabase(values['database-url'] as string | undefined);
    // A database that cannot be reached is still a job: the job writes the failure to storage and alerts.
    const r = await runScheduledBackup({ source: 'cli', databaseUrl: db.url, storage, waitMs: 0 });
    if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else if (r.status === 'failed') process.stderr.write(`tickethub-backup run-scheduled: ${describeResult(r)}\n`);
    else process.stdout.write(`${r.slot ? `slot ${r.slot}: ` : ''}${describeResult(r)}\n`);
    return r.status === 'failed' ? 1 : 0;
  } finally {
    await storage.close();
    await db?.close();
  }
}
