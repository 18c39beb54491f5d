// GET /api/admin/backups/{id}/events – text/event-stream of one backup (super_admin and admin):
// `progress` events while it runs, then one `done` (the backup) or `failed` (the cause). Works on
// any server instance: progress is read from the run's backup_runs row.
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { getPool } from '@/lib/db/pool';
import { backupEventStream } from '@/lib/http/backup-events';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { backupDetail } from '@/lib/queries/backup-detail';

export const dynamic = 'force-dynamic';
export const maxDuration = 300;

export const GET = withAdmin<{ id: string }>(
  async (req, { params }) => {
    const pool = getPool();
    const b = await backupDetail(pool, params.id); // 400 / 404 before the stream starts
    return new Response(backupEventStream(pool, b.id, req.signal, (maxDuration - 10) * 1000), {
      headers: {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      },
    });
  },
  { roles: BACKUP_ROLES },
);

export const { POST, PUT, PATCH, DELETE } = otherMethods('GET');
