// GET /api/admin/backups/stats – totals, last success, average size, last failure, whether new backups are encrypted (super_admin and admin).
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { recoverStaleRuns } from '@/lib/backup/backup-runs';
import { encryptionStatus } from '@/lib/backup/encryption/encryption-keys';
import { getPool } from '@/lib/db/pool';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { backupStatistics } from '@/lib/queries/backups';

export const dynamic = 'force-dynamic';

export const GET = withAdmin(
  async () => {
    // A run whose process died counts as failed, not as forever running.
    await recoverStaleRuns(getPool());
    return Response.json({ ...(await backupStatistics(getPool())), ...encryptionStatus() });
  },
  { roles: BACKUP_ROLES },
);

export const { POST, PUT, PATCH, DELETE } = otherMethods('GET');
