import type { Queryable } from '../activity/log-activity';
import { AppError } from '../errors';
import { revokeAllAdminSessions } from './admin-sessions';
import { ADMIN_ROLES } from './admin-user-types';
import type { AdminRole, AdminUser } from './admin-user-types';
import { hashPassword, verifyPassword } from './password';
import { adminPasswordProblem } from './password-policy';

// The role list and the user shape live in admin-user-types.ts (admin-sessions needs them too).
export { ADMIN_ROLES } from './admin-user-types';
export type { AdminRole, AdminUser } from './admin-user-types';

/** An admin user together with the stored hash, for the sign-in check only. */
export interface AdminUserWithHash extends AdminUser {
  passwordHash: string;
}

interface AdminRow {
  id: string;
  email: string;
  full_name: string;
  role: AdminRole;
  is_active: boolean;
  last_sign_in_at: Date | null;
  password_hash?: string;
}

function toUser(r: AdminRow): AdminUser {
  return { id: r.id, email: r.email, fullName: r.full_name, role: r.role, isActive: r.is_active, lastSignInAt: r.last_sign_in_at };
}

export interface UpsertAdminInput {
  email: string;
  password: string;
  fullName?: string;
  role?: AdminRole;
}

/**
 * Creates the admin with this email (case-insensitive) or, when it exists, resets its password,
 * role and name and re-activates it. Used by the launcher (ADMIN_EMAIL/ADMIN_PASSWORD) and the CLI.
 * A reset to a DIFFERENT password signs the admin out everywhere (a reset after a leak must end
 * the intruder's session); re-applying the same password, as the launcher does on every start,
 * keeps the stored hash and the sessions.
 * Throws AppError('usage') for an invalid email, a password the policy refuses (password-policy.ts) or an unknown
 * role. Returns the user and whether it was created.
 */
export async function upsertAdmin(db: Queryable, input: UpsertAdminInput): Promise<{ user: AdminUser; created: boolean }> {
  const email = input.email.trim();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new AppError('usage', `invalid admin email: ${JSON.stringify(input.email)}`);
  const weak = adminPasswordProblem(input.password, email);
  if (weak) throw new AppError('usage', `admin password ${weak}`);
  const role = input.role ?? 'super_admin';
  if (!ADMIN_ROLES.includes(role)) throw new AppError('usage', `unknown admin role: ${String(role)} (expected ${ADMIN_ROLES.join(', ')})`);
  // A reset without a name keeps the stored one; a new admin without a name is called by the email's local part.
  const fullName = input.fullName?.trim() || null;
  const existing = await db.query<{ id: string; password_hash: string }>(
    `SELECT id, password_hash FROM public.admin_users WHERE lower(email) = lower($1)`,
    [email],
  );
  const old = existing.rows[0];
  const samePassword = old ? await verifyPassword(old.password_hash, input.password) : false;
  const passwordHash = samePassword ? old.password_hash : await hashPassword(input.password);
  // The unique index is on lower(email), so the conflict target is that expression.
  const { rows } = await db.query<AdminRow & { created: boolean }>(
    `INSERT INTO public.admin_users (email, full_name, role, password_hash, is_active)
     VALUES ($1, COALESCE($2, $5), $3, $4, true)
     ON CONFLICT (lower(email)) DO UPDATE
       SET full_name = COALESCE($2, admin_users.full_name), role = EXCLUDED.role, password_hash = EXCLUDED.password_hash,
           is_active = true, updated_at = now()
     RETURNING id, email, full_name, role, is_active, last_sign_in_at, (xmax = 0) AS created`,
    [email, fullName, role, passwordHash, email.split('@')[0]],
  );
  if (old && !samePassword) await revokeAllAdminSessions(db, old.id);
  return { user: toUser(rows[0]), created: rows[0].created };
}

/** The admin with this email (case-insensitive) including its hash, or null. */
export async function findAdminByEmail(db: Queryable, email: string): Promise<AdminUserWithHash | null> {
  const { rows } = await db.query<AdminRow>(
    `SELECT id, email, full_name, role, is_active, last_sign_in_at, password_hash
       FROM public.admin_users WHERE lower(email) = lower($1)`,
    [email.trim()],
  );
  return rows[0] ? { ...toUser(rows[0]), passwordHash: rows[0].password_hash ?? '' } : null;
}

/** The admin with this id, or null (a session whose user was deleted resolves to null). */
export async function findAdminById(db: Queryable, id: string): Promise<AdminUser | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await db.query<AdminRow>(
    `SELECT id, email, full_name, role, is_active, last_sign_in_at FROM public.admin_users WHERE id = $1`,
    [id],
  );
  return rows[0] ? toUser(rows[0]) : null;
}

/** Records a successful sign-in time. */
export async function touchLastSignIn(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE public.admin_users SET last_sign_in_at = now() WHERE id = $1`, [id]);
}
