// POST /api/admin/backups/{id}/verify – re-reads the stored backup and checks every checksum
// (super_admin and admin). 200 with the result whether it passed or not ({ok, problems, ...});
// the outcome is recorded on the run and in the activity log (BACKUP_VERIFIED).
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { recordVerification } from '@/lib/backup/backup-runs';
import { verifyBackup } from '@/lib/backup/verify';
import { getPool } from '@/lib/db/pool';
import { auditRequest } from '@/lib/http/audit';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { parseBackupId } from '@/lib/queries/backup-detail';
import { openStorage } from '@/lib/storage/open-storage';

export const dynamic = 'force-dynamic';
export const maxDuration = 300;

export const POST = withAdmin<{ id: string }>(
  async (req, { admin, params }) => {
    const id = parseBackupId(params.id);
    const storage = openStorage();
    const result = await verifyBackup(storage, id).finally(() => storage.close());
    const pool = getPool();
    await recordVerification(pool, id, result);
    await auditRequest(pool, req, admin, {
      action: 'BACKUP_VERIFIED',
      entityId: id,
      description: `Verified backup ${id}: ${result.ok ? 'all checksums match' : `${result.problems.length} problem(s)`}`,
      metadata: { backupId: id, ok: result.ok, problems: result.problems.length },
    });
    return Response.json(result);
  },
  { roles: BACKUP_ROLES },
);

export const { GET, PUT, PATCH, DELETE } = otherMethods('POST');
