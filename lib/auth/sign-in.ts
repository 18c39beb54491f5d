import { createHash } from 'node:crypto';
import type pg from 'pg';
import { logActivity } from '../activity/log-activity';
import { AppError } from '../errors';
import type { AdminUser } from './admin-users';
import { findAdminByEmail, touchLastSignIn } from './admin-users';
import { recordLoginAttempt, throttleWaitSeconds } from './login-throttle';
import { verifyDummy, verifyPassword } from './password';

/** The one message for every failed sign-in, so answers never reveal whether an email exists. */
export const INVALID_CREDENTIALS = 'Invalid email or password';

export interface SignInInput {
  email: string;
  password: string;
  /** Client address (for throttling and the audit trail). */
  ip: string;
  userAgent?: string | null;
}

/**
 * Checks credentials and returns the admin, or throws AppError 'unauthorized' (wrong password,
 * unknown email, inactive account: same message) or 'rate_limited' (details.retryAfterSeconds).
 * Attempts for one (email, ip) are serialised by an advisory lock so parallel guesses cannot slip
 * past the limit. Writes ADMIN_SIGN_IN / ADMIN_SIGN_IN_FAILED to activity_logs and updates
 * last_sign_in_at. The password is never stored or logged.
 */
export async function signIn(pool: pg.Pool, input: SignInInput): Promise<AdminUser> {
  const email = input.email.trim();
  // Something without an @ cannot be an account (upsertAdmin requires one) and is most often the
  // password typed into the email box: never write it to the audit trail (every role reads it) or
  // the attempts table. Its throttle key is a hash, so repeated tries are still counted.
  const isEmailLike = /^[^@\s]+@[^@\s]+$/.test(email);
  const attemptKey = isEmailLike ? email : `sha256:${createHash('sha256').update(email.toLowerCase()).digest('hex')}`;
  const shownEmail = isEmailLike ? email.slice(0, 200) : '(not an email address)';
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // One attempt per account at a time (from any address): parallel guesses cannot slip past
    // the per-address limit nor the account-wide backoff.
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('login:' || lower($1), 0))`, [email]);
    const wait = await throttleWaitSeconds(client, attemptKey, input.ip);
    if (wait > 0) {
      await client.query('COMMIT');
      throw new AppError('rate_limited', `Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 60)} minute(s).`, {
        details: { retryAfterSeconds: wait },
      });
    }
    const user = await findAdminByEmail(client, email);
    const ok = user ? await verifyPassword(user.passwordHash, input.password) : await verifyDummy(input.password);
    const audit = { ipAddress: input.ip, userAgent: input.userAgent ?? null };
    if (!user || !ok || !user.isActive) {
      await recordLoginAttempt(client, attemptKey, input.ip, false);
      const reason = !user ? 'unknown_email' : !ok ? 'wrong_password' : 'inactive';
      await logActivity(client, {
        action: 'ADMIN_SIGN_IN_FAILED',
        entityType: 'admin_user',
        entityId: user?.id ?? null,
        description: `Failed sign-in for ${shownEmail}`,
        metadata: { email: shownEmail, reason },
        adminUserId: user?.id ?? null,
        ...audit,
      });
      await client.query('COMMIT');
      throw new AppError('unauthorized', INVALID_CREDENTIALS);
    }
    await recordLoginAttempt(client, attemptKey, input.ip, true);
    await touchLastSignIn(client, user.id);
    await logActivity(client, {
      action: 'ADMIN_SIGN_IN',
      entityType: 'admin_user',
      entityId: user.id,
      description: `${user.fullName} signed in`,
      metadata: { email: user.email, role: user.role },
      adminUserId: user.id,
      ...audit,
    });
    await client.query('COMMIT');
    const { passwordHash: _omit, ...safe } = user;
    return { ...safe, lastSignInAt: new Date() };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
