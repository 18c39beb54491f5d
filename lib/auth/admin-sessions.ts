import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../activity/log-activity';
import type { AdminRole, AdminUser } from './admin-user-types';

const hashId = (id: string) => createHash('sha256').update(id).digest('hex');

/**
 * Starts a session for an admin and returns its id (256 random bits, base64url) for the sealed
 * cookie. Only the id's hash is stored. Expired sessions are pruned on the way.
 */
export async function createAdminSession(
  db: Queryable,
  adminUserId: string,
  opts: { ttlSeconds: number; ip?: string | null; userAgent?: string | null },
): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  await db.query(
    `INSERT INTO public.admin_sessions (id_hash, admin_user_id, expires_at, ip_address, user_agent)
     VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5)`,
    [hashId(id), adminUserId, opts.ttlSeconds, opts.ip ?? null, opts.userAgent?.slice(0, 500) ?? null],
  );
  // Cheap housekeeping instead of a separate job.
  if (Math.random() < 0.05) await db.query(`DELETE FROM public.admin_sessions WHERE expires_at < now() - interval '1 day'`);
  return id;
}

/**
 * The active admin behind a session id, or null when the session is unknown, expired, revoked,
 * or its admin is inactive. One query: this runs on every admin request.
 */
export async function findSessionAdmin(db: Queryable, sessionId: string): Promise<AdminUser | null> {
  const { rows } = await db.query<{ id: string; email: string; full_name: string; role: AdminRole; is_active: boolean; last_sign_in_at: Date | null }>(
    `SELECT a.id, a.email, a.full_name, a.role, a.is_active, a.last_sign_in_at
       FROM public.admin_sessions s JOIN public.admin_users a ON a.id = s.admin_user_id
      WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND a.is_active`,
    [hashId(sessionId)],
  );
  const r = rows[0];
  return r ? { id: r.id, email: r.email, fullName: r.full_name, role: r.role, isActive: r.is_active, lastSignInAt: r.last_sign_in_at } : null;
}

/** Ends one session (sign-out). Unknown ids are ignored. */
export async function revokeAdminSession(db: Queryable, sessionId: string): Promise<void> {
  await db.query(`UPDATE public.admin_sessions SET revoked_at = now() WHERE id_hash = $1 AND revoked_at IS NULL`, [hashId(sessionId)]);
}

/** Ends every session of an admin (password reset, deactivation); returns how many were active. */
export async function revokeAllAdminSessions(db: Queryable, adminUserId: string): Promise<number> {
  const r = await db.query(`UPDATE public.admin_sessions SET revoked_at = now() WHERE admin_user_id = $1 AND revoked_at IS NULL`, [adminUserId]);
  return r.rowCount ?? 0;
}
