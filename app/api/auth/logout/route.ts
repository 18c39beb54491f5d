// POST /api/auth/logout – ends the session (idempotent: 200 also without one).
import { logActivity } from '@/lib/activity/log-activity';
import { revokeAdminSession } from '@/lib/auth/admin-sessions';
import { getPool } from '@/lib/db/pool';
import { clientIp } from '@/lib/http/client-ip';
import { errorResponse } from '@/lib/http/error-response';
import { currentAdmin, getSession } from '@/lib/http/session';

export async function POST(req: Request): Promise<Response> {
  try {
    const admin = await currentAdmin();
    const session = await getSession();
    if (session.sid) await revokeAdminSession(getPool(), session.sid);
    session.destroy();
    if (admin) {
      await logActivity(getPool(), {
        action: 'ADMIN_SIGN_OUT',
        entityType: 'admin_user',
        entityId: admin.id,
        description: `${admin.fullName} signed out`,
        ipAddress: clientIp(req.headers),
        userAgent: req.headers.get('user-agent'),
        metadata: { email: admin.email },
        adminUserId: admin.id,
      });
    }
    return Response.json({ ok: true });
  } catch (err) {
    return errorResponse(err);
  }
}
