// POST /api/admin/backups/{id}/drill – super_admin: restores the backup into a scratch database
// (created and dropped on the app's server, or DRILL_DATABASE_URL) and compares every table with
// the manifest. 200 with the drill result ({ok, tables, error, ...}); recorded on the run and in
// the activity log (BACKUP_DRILL).
import { SUPER_ROLES } from '@/lib/auth/roles';
import { runDrill } from '@/lib/backup/drill';
import { databaseUrl, getPool } from '@/lib/db/pool';
import { auditRequest } from '@/lib/http/audit';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { parseBackupId } from '@/lib/queries/backup-detail';
import { openStorage } from '@/lib/storage/open-storage';

export const dynamic = 'force-dynamic';
export const maxDuration = 300;

export const POST = withAdmin<{ id: string }>(
  async (req, { admin, params }) => {
    const id = parseBackupId(params.id);
    const url = databaseUrl();
    const storage = openStorage();
    const result = await runDrill({ storage, id, serverUrl: url, recordUrl: url }).finally(() => storage.close());
    await auditRequest(getPool(), req, admin, {
      action: 'BACKUP_DRILL',
      entityId: id,
      description: `Restore drill of backup ${id}: ${result.ok ? `passed (${result.tables.length} tables, ${result.rows} rows)` : `failed: ${result.error}`}`,
      metadata: { backupId: id, ok: result.ok, rows: result.rows, durationMs: result.durationMs, ...(result.ok ? {} : { error: result.error }) },
    });
    return Response.json(result);
  },
  { roles: SUPER_ROLES },
);

export const { GET, PUT, PATCH, DELETE } = otherMethods('POST');
