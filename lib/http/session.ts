import { cookies, headers } from 'next/headers';
import { getIronSession } from 'iron-session';
import type { IronSession } from 'iron-session';
import { findSessionAdmin } from '../auth/admin-sessions';
import type { AdminUser } from '../auth/admin-users';
import { requestIsHttps, sessionIsFresh, sessionOptions } from '../auth/session-options';
import type { SessionData } from '../auth/session-options';
import { getPool } from '../db/pool';

/** The request's iron-session (throws AppError('config') when SESSION_SECRET is unusable). */
export async function getSession(): Promise<IronSession<SessionData>> {
  return getIronSession<SessionData>(await cookies(), sessionOptions(requestIsHttps(await headers())));
}

/**
 * The signed-in admin for this request, or null. The session and user are re-read from the
 * database, so a signed-out session, a reset password or a deactivated account loses access
 * immediately, not when its cookie expires.
 */
export async function currentAdmin(): Promise<AdminUser | null> {
  const session = await getSession();
  if (!session.sid || !sessionIsFresh(session)) return null;
  return findSessionAdmin(getPool(), session.sid);
}
