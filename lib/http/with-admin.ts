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

/**
 * 401 JSON without a valid session, else `answer()`: unknown routes and methods tell an anonymous
 * caller nothing about which exist (like every admin route).
 */
export async function afterSessionCheck(answer: () => Response): Promise<Response> {
  try {
    if (!(await currentAdmin())) return jsonError(401, 'unauthorized', 'Sign in required');
  } catch (err) {
    return errorResponse(err);
  }
  return answer();
}

/**
 * Handlers for the methods an /api/admin route does not serve: 401 without a session, else 405
 * JSON with `Allow` (Next's own 405 has no body and answers before any session check). Export the
 * missing ones: `export const { PUT, PATCH, DELETE } = otherMethods('GET', 'POST');`
 */
export function otherMethods(...allowed: string[]): Record<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', (req: Request) => Promise<Response>> {
  const allow = allowed.join(', ');
  const handler = (req: Request) => afterSessionCheck(() => jsonError(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allow}`, undefined, { Allow: allow }));
  return { GET: handler, POST: handler, PUT: handler, PATCH: handler, DELETE: handler };
}
