// GET /api/admin/backups – backup history. Placeholder until the backup engine lands (a later
// issue replaces this body); the role check (no staff) is already the real one.
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { withAdmin } from '@/lib/http/with-admin';

export const GET = withAdmin(async () => Response.json({ items: [], total: 0 }), { roles: BACKUP_ROLES });
