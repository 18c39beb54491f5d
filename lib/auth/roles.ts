import type { AdminRole } from './admin-users';

/** Roles that may see and run backups (staff may not). */
export const BACKUP_ROLES: readonly AdminRole[] = ['super_admin', 'admin'];

/** Every role: routes any signed-in admin may use. */
export const ANY_ROLE: readonly AdminRole[] = ['super_admin', 'admin', 'staff'];

/** Destructive or heavy backup actions (delete, restore drill): super_admin only. */
export const SUPER_ROLES: readonly AdminRole[] = ['super_admin'];
