// GET /api/admin/backups/{id}/download – the archive (<id>.sql.gz) as a streamed attachment with
// Content-Length (super_admin and admin). Writes a BACKUP_DOWNLOADED activity row.
import { backupFileRoute } from '@/lib/http/download-response';
import { otherMethods } from '@/lib/http/with-admin';

export const dynamic = 'force-dynamic';
export const maxDuration = 300;

export const GET = backupFileRoute('archive');

export const { POST, PUT, PATCH, DELETE } = otherMethods('GET');
