// GET /api/admin/backups/{id} – one backup: status, trigger, times, rows, size, sha256, verified,
// drill, error and per-table rows/bytes (super_admin and admin).
// DELETE /api/admin/backups/{id} – super_admin: removes the manifest, then the archive (plain or
// encrypted), then marks the run deleted. 409 while it runs or when retention keeps it (newest BACKUP_RETENTION_MIN good).
import { BACKUP_ROLES, SUPER_ROLES } from '@/lib/auth/roles';
import { markRunDeleted, protectedRunIds } from '@/lib/backup/backup-runs';
import { newestGoodBackupIds } from '@/lib/backup/prune';
import { ArchiveLeftBehind, removeBackupFiles } from '@/lib/backup/remove-backup';
import { retentionSettings } from '@/lib/backup/run-scheduled-backup';
import { getPool } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { auditRequest } from '@/lib/http/audit';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { backupDetail } from '@/lib/queries/backup-detail';
import { openStorage } from '@/lib/storage/open-storage';

export const dynamic = 'force-dynamic';

type Params = { id: string };

export const GET = withAdmin<Params>(async (_req, { params }) => Response.json(await backupDetail(getPool(), params.id)), { roles: BACKUP_ROLES });

export const DELETE = withAdmin<Params>(
  async (req, { admin, params }) => {
    const pool = getPool();
    const b = await backupDetail(pool, params.id);
    if (b.status === 'running') throw new AppError('conflict', `backup ${b.id} is still running`);
    if (b.status === 'deleted') throw new AppError('conflict', `backup ${b.id} is already deleted`);
    const { keepLast } = retentionSettings();
    let warning: string | undefined;
    const storage = openStorage();
    try {
      // Protected as recorded AND as storage has them: a newer run recorded good whose archive is
      // unreadable in storage must not make the only restorable backup deletable.
      const newest = new Set([...(await protectedRunIds(pool, keepLast)), ...(await newestGoodBackupIds(pool, storage, keepLast))]);
      if (newest.has(b.id)) {
        throw new AppError('conflict', `backup ${b.id} is one of the newest ${Math.max(1, keepLast)} good backups that retention keeps (BACKUP_RETENTION_MIN=${keepLast}); it cannot be deleted`);
      }
      // Manifest first, then the archive, encrypted (.sql.gz.age) or not.
      await removeBackupFiles(storage, b.id);
    } catch (err) {
      // The manifest is gone, so the backup is: record it deleted; the next backup or prune removes the archive.
      if (!(err instanceof ArchiveLeftBehind)) throw err;
      warning = err.message;
    } finally {
      await storage.close();
    }
    await markRunDeleted(pool, b.id, `deleted by ${admin.email}${warning ? `; ${warning}` : ''}`);
    await auditRequest(pool, req, admin, {
      action: 'BACKUP_DELETED',
      entityId: b.id,
      description: `Deleted backup ${b.id}`,
      metadata: { backupId: b.id, sizeBytes: b.sizeBytes, status: b.status },
    });
    return Response.json({ id: b.id, status: 'deleted', ...(warning ? { warning } : {}) });
  },
  { roles: SUPER_ROLES },
);

export const { POST, PUT, PATCH } = otherMethods('GET', 'DELETE');
