// GET /api/health/backups – for uptime monitors: 200 {"status":"ok","lastVerifiedBackupAt","ageHours"}
// when the newest verified backup is younger than BACKUP_MAX_AGE_HOURS (default 26) and the latest
// scheduled run did not fail; else 503 with status failing | stale | never (or unavailable when the
// database does not answer within HEALTH_DEADLINE_MS). Public: no backup ids, sizes or error messages.
import { backupHealth, maxAgeHoursFromEnv } from '@/lib/backup/backup-health';
import { backupHealthFacts, recoverStaleRuns } from '@/lib/backup/backup-runs';
import { getPool } from '@/lib/db/pool';
import { checkHealth, healthResponse } from '@/lib/http/health-check';

export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  return checkHealth('backup health check', async () => {
    // A run left 'running' by a dead process is failed first (it must count as a failed run).
    await recoverStaleRuns(getPool()).catch(() => []);
    const facts = await backupHealthFacts(getPool());
    const h = backupHealth(facts, { maxAgeHours: maxAgeHoursFromEnv(process.env, (m) => console.error(`[health] ${m}`)) });
    return healthResponse({ status: h.status, lastVerifiedBackupAt: h.lastVerifiedBackupAt, ageHours: h.ageHours, maxAgeHours: h.maxAgeHours }, h.status === 'ok' ? 200 : 503);
  });
}
