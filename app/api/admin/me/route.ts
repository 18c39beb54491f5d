// GET /api/admin/me – the signed-in admin (any role).
import { ANY_ROLE } from '@/lib/auth/roles';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';

export const GET = withAdmin(
  async (_req, { admin }) =>
    Response.json({ user: { id: admin.id, email: admin.email, fullName: admin.fullName, role: admin.role, lastSignInAt: admin.lastSignInAt } }),
  { roles: ANY_ROLE },
);

export const { POST, PUT, PATCH, DELETE } = otherMethods('GET');
