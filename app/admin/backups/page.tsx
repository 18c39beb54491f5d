import { getTranslations } from 'next-intl/server';
import { Database } from 'lucide-react';
import { PageHeader } from '@/components/page-header';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { requireAdmin } from '@/lib/http/page-auth';

// /admin/backups – placeholder until the backup dashboard issue; staff are sent to the dashboard.
export default async function BackupsPage() {
  await requireAdmin(BACKUP_ROLES);
  const t = await getTranslations('backups');
  return (
    <>
      <PageHeader title={t('title')} subtitle={t('subtitle')} />
      <div className="flex flex-col items-center rounded-xl border border-dashed border-slate-300 bg-white px-6 py-14 text-center">
        <Database aria-hidden className="size-10 text-slate-300" />
        <p className="mt-3 max-w-md text-sm text-slate-500">{t('placeholder')}</p>
      </div>
    </>
  );
}
