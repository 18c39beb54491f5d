import { cache } from 'react';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import type { AdminRole, AdminUser } from '../auth/admin-users';
import { loginPathFor } from './safe-next-path';
import { currentAdmin } from './session';

/** The login page; pages redirect here without a session. */
export const LOGIN_PATH = '/admin/login';

// One database read per request even though the layout and the page both ask.
const cachedAdmin = cache(currentAdmin);

/**
 * For server components under /admin: the signed-in admin, or a redirect to the login page.
 * With `roles`, an admin whose role is not listed is sent to the dashboard instead.
 */
export async function requireAdmin(roles?: readonly AdminRole[]): Promise<AdminUser> {
  const admin = await cachedAdmin();
  // Back to this page after sign-in (the proxy says which page was asked for).
  if (!admin) redirect(loginPathFor((await headers()).get('x-tickethub-path')));
  if (roles && !roles.includes(admin.role)) redirect('/admin');
  return admin;
}

/** The signed-in admin or null, without redirecting (the login page uses it). */
export async function optionalAdmin(): Promise<AdminUser | null> {
  return cachedAdmin();
}
