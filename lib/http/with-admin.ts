import type { AdminUser, AdminRole } from '../auth/admin-users';
import { AppError } from '../errors';
import { errorResponse, jsonError } from './error-response';
import { assertSameOrigin } from './same-origin';
import { currentAdmin } from './session';

/** What an admin route handler receives besides the request. */
export interface AdminContext<P> {
  admin: AdminUser;
  /** The route's dynamic segments (already awaited: Next 16 passes them as a Promise). */
  params: P;
}

type RouteContext<P> = { params: Promise<P> };

/**
 * Wraps an /api/admin route handler: answers 401 JSON without a valid session, 403 JSON when the
 * admin's role is not in `roles`, 403 for a cross-site mutation (assertSameOrigin), and maps anything the handler throws to a JSON error (AppError
 * code → status via httpStatus; anything else → generic 500, logged server-side).
 *
 * // GET /api/admin/x – example
 * export const GET = withAdmin(async (req, { admin }) => Response.json({ ... }), { roles: BACKUP_ROLES });
 */
export function withAdmin<P = Record<string, never>>(
  handler: (req: Request, ctx: AdminContext<P>) => Promise<Response>,
  opts: { roles: readonly AdminRole[] },
): (req: Request, ctx: RouteContext<P>) => Promise<Response> {
  return async (req, ctx) => {
    try {
      const admin = await currentAdmin();
      if (!admin) return jsonError(401, 'unauthorized', 'Sign in required');
      if (!opts.roles.includes(admin.role)) {
        throw new AppError('forbidden', `The ${admin.role} role may not use this resource`);
      }
      // After the session check, so an anonymous caller still learns only "sign in" (401).
      assertSameOrigin(req);
      const params = ((await ctx?.params) ?? {}) as P;
      return await handler(req, { admin, params });
    } catch (err) {
      return errorResponse(err);
    }
  };
}
