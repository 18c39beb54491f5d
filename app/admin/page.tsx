import { getLocale, getTranslations } from 'next-intl/server';
import { Bus, CalendarClock, ReceiptText, Ticket, Users } from 'lucide-react';
import { PageHeader } from '@/components/page-header';
import { StatCard } from '@/components/stat-card';
import { getPool } from '@/lib/db/pool';
import { requireAdmin } from '@/lib/http/page-auth';
import { formatNumber } from '@/lib/i18n/format-date-time';
import { toLocale } from '@/lib/i18n/locales';
import { dashboardCounts } from '@/lib/queries/dashboard';

export async function generateMetadata() {
  const [t, c] = await Promise.all([getTranslations('dashboard'), getTranslations('common')]);
  return { title: `${t('title')} · ${c('pageTitle')}` };
}

// /admin – the dashboard: headline counts.
export default async function DashboardPage() {
  const admin = await requireAdmin();
  const t = await getTranslations('dashboard');
  const locale = toLocale(await getLocale());
  const fmt = { format: (n: number) => formatNumber(n, locale) };
  const counts = await dashboardCounts(getPool());
  return (
    <>
      <PageHeader title={t('title')} subtitle={t('welcome', { name: admin.fullName })} />
      <div className="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-3">
        <StatCard label={t('tickets')} value={fmt.format(counts.tickets)} icon={<Ticket className="size-5" />} />
        <StatCard label={t('pendingReceipts')} value={fmt.format(counts.pendingReceipts)} icon={<ReceiptText className="size-5" />} accent />
        <StatCard label={t('trips')} value={fmt.format(counts.trips)} icon={<Bus className="size-5" />} />
        <StatCard label={t('upcomingTrips')} value={fmt.format(counts.upcomingTrips)} icon={<CalendarClock className="size-5" />} />
        <StatCard label={t('customers')} value={fmt.format(counts.customers)} icon={<Users className="size-5" />} />
      </div>
    </>
  );
}
