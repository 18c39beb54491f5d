// GET /api/cron/daily-backup – Vercel Cron entry point (its schedule is vercel.json's). POST does the
// same for other schedulers. Both need `Authorization: Bearer <CRON_SECRET>` (withCron).
import vercel from '@/vercel.json';
import { runScheduledBackup } from '@/lib/backup/run-scheduled-backup';
import { parseSchedule } from '@/lib/backup/schedule';
import { jsonError } from '@/lib/http/error-response';
import { withCron } from '@/lib/http/with-cron';

// A backup of a large database takes minutes; Vercel's default function limit would cut it off.
export const maxDuration = 300;
// Never prerendered or cached: every call is a new backup.
export const dynamic = 'force-dynamic';

const PATH = '/api/cron/daily-backup';

/**
 * The slot of a call is computed from the schedule vercel.json gives this route (Vercel Cron runs
 * in UTC), so a duplicate delivery of one event lands in the same slot and is skipped.
 */
function routeSchedule() {
  const cron = vercel.crons.find((c) => c.path === PATH);
  return cron ? parseSchedule(cron.schedule, 'UTC', 'vercel.json schedule') : null;
}

/** How long a concurrent second call waits for the first before answering 409. */
const WAIT_MS = 30_000;

/**
 * How long it waits for another backup (manual, CLI) to end before answering 409 (the slot stays
 * open for a later delivery; nothing failed, so no alert). Within maxDuration with the backup after it.
 */
const BUSY_WAIT_MS = 30_000;

const handler = withCron(async () => {
  const result = await runScheduledBackup({ source: 'cron', schedule: routeSchedule(), waitMs: WAIT_MS, busyWaitMs: BUSY_WAIT_MS });
  if (result.status === 'skipped') {
    console.log(`[cron] skipped: ${result.reason}`);
    return Response.json({ status: 'skipped', reason: result.reason, backupId: result.backupId ?? null, slot: result.slot }, { status: 200 });
  }
  if (result.status === 'busy') return jsonError(409, 'conflict', result.reason ?? 'this slot is being run by another process');
  if (!result.backup) {
    // The failure is already recorded (backup_runs + BACKUP_FAILED activity); a non-2xx makes the
    // scheduler show the run as failed.
    console.error(`[cron] daily backup failed: ${result.error}`);
    return Response.json(
      { status: 'failed', error: { code: result.errorCode ?? 'internal', message: result.error ?? 'backup failed' }, backup: null, retention: result.retention },
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

/**
 * HEAD would otherwise be answered by the GET handler, i.e. run the whole job for a request that
 * only asks for headers (a monitor or link checker given the secret). It runs nothing.
 */
export async function HEAD(): Promise<Response> {
  return jsonError(405, 'method_not_allowed', 'Use GET or POST', undefined, { Allow: 'GET, POST' });
}
