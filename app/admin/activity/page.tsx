import Link from 'next/link';
import { getLocale, getTranslations } from 'next-intl/server';
import { ChevronLeft, ChevronRight } from 'lucide-react';
import { PageHeader } from '@/components/page-header';
import { describeActivity, isKnownAction, originOf } from '@/lib/activity/activity-labels';
import { getPool } from '@/lib/db/pool';
import { requireAdmin } from '@/lib/http/page-auth';
import { formatDateTime, formatNumber } from '@/lib/i18n/format-date-time';
import { intlLocale, toLocale } from '@/lib/i18n/locales';
import { listActivity, listActivityActions } from '@/lib/queries/activity';
import type { ActivityRow } from '@/lib/queries/activity';

const PAGE_SIZE = 25;

export async function generateMetadata() {
  const [t, c] = await Promise.all([getTranslations('activity'), getTranslations('common')]);
  return { title: `${t('title')} · ${c('pageTitle')}` };
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// /admin/activity?page=N&action=X – the audit trail, newest first.
export default async function ActivityPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await requireAdmin();
  const sp = await searchParams;
  const t = await getTranslations('activity');
  const roles = await getTranslations('roles');
  const locale = toLocale(await getLocale());
  const db = getPool();
  const actions = await listActivityActions(db);
  const requested = one(sp.action);
  const action = requested && actions.includes(requested) ? requested : null;
  const result = await listActivity(db, { page: Number(one(sp.page) ?? 1), pageSize: PAGE_SIZE, action });
  const when = (d: Date) => formatDateTime(d, locale);
  const num = (n: number) => formatNumber(n, locale);
  // The stored code stays what is filtered on; people read the label (the code itself when unknown).
  // Entries the app wrote itself store a tag ('system-automation', 'cli') where a sign-in stores the address.
  const origin = (ip: string | null) => {
    const o = originOf(ip);
    return o ? t(`origins.${o}`) : ip;
  };
  const label = (code: string) => (isKnownAction(code) ? t(`actions.${code}`) : code);
  const options = actions.map((a) => ({ code: a, label: label(a) })).sort((x, y) => x.label.localeCompare(y.label, intlLocale(locale)));
  // English shows the description as recorded; other languages the translated template filled from
  // the entry's metadata (numbers and sizes formatted), or the recorded text when it has no template.
  const describe = (row: ActivityRow): string => {
    if (locale === 'en' && row.description) return row.description;
    const d = describeActivity(row, locale);
    if (!d) return row.description;
    const values = { ...d.values };
    if (values.role && ['super_admin', 'admin', 'staff'].includes(values.role)) values.role = roles(values.role as 'admin');
    return t(`descriptions.${d.key}` as 'descriptions.ADMIN_SIGN_IN', values);
  };

  const href = (page: number) => {
    const q = new URLSearchParams();
    if (action) q.set('action', action);
    if (page > 1) q.set('page', String(page));
    const s = q.toString();
    return s ? `/admin/activity?${s}` : '/admin/activity';
  };

  return (
    <>
      <PageHeader title={t('title')} subtitle={t('subtitle')}>
        <form method="get" className="flex items-end gap-2">
          <label className="flex flex-col text-xs font-medium text-slate-600">
            {t('filterLabel')}
            <select
              name="action"
              defaultValue={action ?? ''}
              className="mt-1 w-56 max-w-[60vw] rounded-md border border-slate-300 bg-white px-2.5 py-2 text-sm text-slate-900 shadow-sm"
            >
              <option value="">{t('allActions')}</option>
              {options.map((a) => (
                <option key={a.code} value={a.code}>{a.label}</option>
              ))}
            </select>
          </label>
          <button type="submit" className="rounded-md bg-emerald-700 px-3 py-2 text-sm font-medium text-white hover:bg-emerald-800">
            {t('apply')}
          </button>
        </form>
      </PageHeader>

      <div className="overflow-hidden rounded-xl border border-slate-200 bg-white shadow-sm">
        {result.items.length === 0 ? (
          <p className="px-6 py-12 text-center text-sm text-slate-500">{t('empty')}</p>
        ) : (
          <>
          {/* Phones: one card per entry, so the description is readable without sideways scrolling. */}
          <ul className="divide-y divide-slate-100 md:hidden">
            {result.items.map((row) => (
              <li key={row.id} className="px-4 py-3" data-card-action={row.action}>
                <div className="flex flex-wrap items-center justify-between gap-2">
                  <ActionBadge action={row.action} label={label(row.action)} title={t('recordedAs', { code: row.action })} wrap />
                  <time dateTime={row.createdAt.toISOString()} className="text-xs text-slate-500 tabular-nums">{when(row.createdAt)}</time>
                </div>
                <p className="mt-1.5 text-sm break-words text-slate-800">{describe(row)}</p>
                <p className="mt-0.5 text-xs text-slate-500">{row.adminName ?? t('system')}{row.ipAddress ? ` · ${origin(row.ipAddress)}` : ''}</p>
              </li>
            ))}
          </ul>
          <div className="hidden overflow-x-auto md:block">
            <table className="min-w-full divide-y divide-slate-200 text-sm">
              <thead className="bg-slate-50 text-left text-xs font-semibold tracking-wide text-slate-500 uppercase">
                <tr>
                  <th scope="col" className="px-4 py-3 whitespace-nowrap">{t('time')}</th>
                  <th scope="col" className="px-4 py-3">{t('action')}</th>
                  <th scope="col" className="px-4 py-3">{t('description')}</th>
                  <th scope="col" className="hidden px-4 py-3 md:table-cell">{t('admin')}</th>
                  <th scope="col" className="hidden px-4 py-3 lg:table-cell">{t('ip')}</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {result.items.map((row) => (
                  <tr key={row.id} className="align-top hover:bg-slate-50/60" data-action={row.action}>
                    <td className="px-4 py-3 whitespace-nowrap text-slate-600 tabular-nums">
                      <time dateTime={row.createdAt.toISOString()}>{when(row.createdAt)}</time>
                    </td>
                    <td className="px-4 py-3">
                      <ActionBadge action={row.action} label={label(row.action)} title={t('recordedAs', { code: row.action })} />
                    </td>
                    <td className="min-w-48 px-4 py-3 text-slate-800">{describe(row)}</td>
                    <td className="hidden px-4 py-3 text-slate-600 md:table-cell">{row.adminName ?? t('system')}</td>
                    <td className="hidden px-4 py-3 font-mono text-xs text-slate-500 lg:table-cell">{origin(row.ipAddress) ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          </>
        )}
        <nav aria-label={t('pagination')} className="flex items-center justify-between gap-3 border-t border-slate-200 bg-slate-50 px-4 py-3 text-sm">
          <p className="text-slate-500">
            {t('total', { total: result.total, count: num(result.total) })} · {t('pageOf', { page: num(result.page), pageCount: num(result.pageCount) })}
          </p>
          <div className="flex gap-2">
            <PageLink href={result.page > 1 ? href(result.page - 1) : null} rel="prev">
              <ChevronLeft aria-hidden className="size-4" />
              <span className="hidden sm:inline">{t('previous')}</span>
            </PageLink>
            <PageLink href={result.page < result.pageCount ? href(result.page + 1) : null} rel="next">
              <span className="hidden sm:inline">{t('next')}</span>
              <ChevronRight aria-hidden className="size-4" />
            </PageLink>
          </div>
        </nav>
      </div>
    </>
  );
}

function PageLink({ href, rel, children }: { href: string | null; rel: string; children: React.ReactNode }) {
  const cls = 'inline-flex items-center gap-1 rounded-md border px-3 py-1.5';
  if (!href) return <span aria-disabled className={`${cls} border-slate-200 text-slate-300`}>{children}</span>;
  return <Link href={href} rel={rel} className={`${cls} border-slate-300 bg-white text-slate-700 hover:bg-slate-100`}>{children}</Link>;
}

// The translated label; the stored code in data-action-code and the tooltip. Table cells keep the
// label on one line; phone cards may wrap a long one.
function ActionBadge({ action, label, title, wrap = false }: { action: string; label: string; title: string; wrap?: boolean }) {
  const failed = action.endsWith('FAILED');
  return (
    <span data-action-code={action} title={title} className={`inline-block rounded px-2 py-0.5 text-xs font-medium ${label === action ? 'font-mono' : ''} ${wrap ? 'break-words' : 'whitespace-nowrap'} ${failed ? 'bg-red-50 text-red-700' : 'bg-slate-100 text-slate-700'}`}>
      {label}
    </span>
  );
}
