/** The roles of admin_users.role; the order is from most to least powerful. */
export const ADMIN_ROLES = ['super_admin', 'admin', 'staff'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** An admin user as the app sees it (never includes the password hash). */
export interface AdminUser {
  id: string;
  email: string;
  fullName: string;
  role: AdminRole;
  isActive: boolean;
  lastSignInAt: Date | null;
}
