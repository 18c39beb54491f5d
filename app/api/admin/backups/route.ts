// GET /api/admin/backups?limit=30 – backup history, newest first (super_admin and admin; staff 403).
import { z } from 'zod';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { getPool } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { withAdmin } from '@/lib/http/with-admin';
import { backupHistory } from '@/lib/queries/backups';
import { signingNotice } from '@/lib/backup/manifest-signature';

const Query = z.object({ limit: z.coerce.number().int().min(1).max(100).default(30) });

export const dynamic = 'force-dynamic';

export const GET = withAdmin(
  async (req) => {
    const raw = new URL(req.url).searchParams.get('limit');
    const parsed = Query.safeParse(raw === null ? {} : { limit: raw });
    if (!parsed.success) throw new AppError('bad_request', 'limit must be a whole number from 1 to 100');
    const backups = await backupHistory(getPool(), { limit: parsed.data.limit });
    // Without BACKUP_SIGNING_KEY nothing authenticates the stored backups: every listing says so.
    return Response.json({ backups, signing: signingNotice() });
  },
  { roles: BACKUP_ROLES },
);
