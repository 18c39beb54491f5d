// GET /api/admin/backups?limit=30&cursor=... – backup history, newest first (super_admin and admin;
// staff 403). `nextCursor` (null on the last page) fetches the next, older page.
import { z } from 'zod';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { getPool } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { backupHistory, decodeCursor, encodeCursor } from '@/lib/queries/backups';
import { signingNotice } from '@/lib/backup/manifest-signature';

const Query = z.object({ limit: z.coerce.number().int().min(1).max(100).default(30) });

export const dynamic = 'force-dynamic';

export const GET = withAdmin(
  async (req) => {
    const params = new URL(req.url).searchParams;
    const raw = params.get('limit');
    const parsed = Query.safeParse(raw === null ? {} : { limit: raw });
    if (!parsed.success) throw new AppError('bad_request', 'limit must be a whole number from 1 to 100');
    const cursorText = params.get('cursor');
    const before = cursorText === null ? undefined : decodeCursor(cursorText);
    if (before === null) throw new AppError('bad_request', 'cursor is not one this API returned (use nextCursor of the previous page)');
    const limit = parsed.data.limit;
    // One extra row says whether there is a next page.
    const rows = await backupHistory(getPool(), { limit: Math.min(limit + 1, 101), before });
    const backups = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? encodeCursor(backups[backups.length - 1]) : null;
    // Without BACKUP_SIGNING_KEY nothing authenticates the stored backups: every listing says so.
    return Response.json({ backups, nextCursor, signing: signingNotice() });
  },
  { roles: BACKUP_ROLES },
);

export const { POST, PUT, PATCH, DELETE } = otherMethods('GET');
