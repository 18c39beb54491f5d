import { logActivity } from '../activity/log-activity';
import type { Queryable } from '../activity/log-activity';
import type { AdminUser } from '../auth/admin-users';
import { clientIp } from './client-ip';

/**
 * Writes the activity row of an admin's request (who, what, address, user agent). Every mutation
 * and every download through the API writes one; the row never holds backup content.
 */
export async function auditRequest(
  db: Queryable,
  req: Request,
  admin: AdminUser,
  e: { action: string; entityType?: string; entityId?: string | null; description: string; metadata?: Record<string, unknown> },
): Promise<void> {
  await logActivity(db, {
    action: e.action,
    entityType: e.entityType ?? 'backup',
    entityId: e.entityId ?? null,
    description: e.description,
    ipAddress: clientIp(req.headers),
    userAgent: req.headers.get('user-agent'),
    adminUserId: admin.id,
    metadata: e.metadata,
  });
}
