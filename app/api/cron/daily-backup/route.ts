// GET /api/cron/daily-backup – Vercel Cron entry point (vercel.json: 0 2 * * *). POST does the same
// for other schedulers. Both need `Authorization: Bearer <CRON_SECRET>` (withCron).
import { runScheduledBackup } from '@/lib/backup/run-scheduled-backup';
import { withCron } from '@/lib/http/with-cron';

// A backup of a large database takes minutes; Vercel's default function limit would cut it off.
export const maxDuration = 300;
// Never prerendered or cached: every call is a new backup.
export const dynamic = 'force-dynamic';

const handler = withCron(async () => {
  const result = await runScheduledBackup();
  if (!result.backup) {
    // The failure is already recorded (backup_runs + BACKUP_FAILED activity); a non-2xx makes the
    // scheduler show the run as failed.
    console.error(`[cron] daily backup failed: ${result.error}`);
    return Response.json(
      { error: { code: result.errorCode ?? 'internal', message: result.error ?? 'backup failed' }, backup: null, retention: result.retention },
      { status: 500 },
    );
  }
  const r = result.retention;
  if (r.error) console.error(`[cron] retention: ${r.error}`);
  console.log(
    `[cron] daily backup ${result.backup.id}: ${result.backup.rows} rows, ${result.backup.sizeBytes} bytes, ${result.backup.durationMs} ms; ` +
      `retention kept ${r.kept}, removed ${r.removed.length}, failed ${r.failed.length}${r.error ? ` (${r.error})` : ''}`,
  );
  return Response.json(result, { status: 200 });
});

export const GET = handler;
export const POST = handler;
