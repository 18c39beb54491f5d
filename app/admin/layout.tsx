import type { ReactNode } from 'react';
import { AdminShell } from '@/components/admin/admin-shell';
import { LocaleToggle } from '@/components/locale-toggle';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { requireAdmin } from '@/lib/http/page-auth';

// Every page below renders inside this shell and needs a session (each page checks again:
// layouts are not re-run on client navigation, so they are not the only guard).
export default async function AdminLayout({ children }: { children: ReactNode }) {
  const admin = await requireAdmin();
  return (
    <AdminShell
      user={{ fullName: admin.fullName, email: admin.email, role: admin.role }}
      canSeeBackups={BACKUP_ROLES.includes(admin.role)}
      localeToggle={<LocaleToggle tone="dark" />}
    >
      {children}
    </AdminShell>
  );
}
