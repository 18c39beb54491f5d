// GET /api/health/backups – for uptime monitors: 200 {"status":"ok","lastVerifiedBackupAt","ageHours"}
// when the newest verified backup is younger than BACKUP_MAX_AGE_HOURS (default 26) and the latest
// scheduled run did not fail; else 503 with status failing | stale | never (or unavailable when the
// database does not answer). Public: no backup ids, sizes or error messages.
import { backupHealth, maxAgeHoursFromEnv } from '@/lib/backup/backup-health';
import { backupHealthFacts, recoverStaleRuns } from '@/lib/backup/backup-runs';
import { getPool } from '@/lib/db/pool';

export const dynamic = 'force-dynamic';

const HEADERS = { 'cache-control': 'no-store' };

export async function GET(): Promise<Response> {
  try {
    // A run left 'running' by a dead process is failed first (it must count as a failed run).
    await recoverStaleRuns(getPool()).catch(() => []);
    const facts = await backupHealthFacts(getPool());
    const h = backupHealth(facts, { maxAgeHours: maxAgeHoursFromEnv(process.env, (m) => console.error(`[health] ${m}`)) });
    return Response.json(
      { status: h.status, lastVerifiedBackupAt: h.lastVerifiedBackupAt, ageHours: h.ageHours, maxAgeHours: h.maxAgeHours },
      { status: h.status === 'ok' ? 200 : 503, headers: HEADERS },
    );
  } catch (err) {
    console.error(`[health] backup health check failed: ${(err as Error).message?.split('\n')[0]}`);
    return Response.json({ status: 'unavailable' }, { status: 503, headers: HEADERS });
  }
}
