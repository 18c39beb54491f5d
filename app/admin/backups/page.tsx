import Link from 'next/link';
import { getLocale, getTranslations } from 'next-intl/server';
import { BackupActions } from '@/components/backups/backup-actions';
import { BackupsAnnouncer } from '@/components/backups/backups-announcer';
import { BackupChart } from '@/components/backups/backup-chart';
import type { ChartPoint } from '@/components/backups/backup-chart';
import { ExportForm } from '@/components/backups/export-form';
import { ManualBackup } from '@/components/backups/manual-backup';
import { PageHeader } from '@/components/page-header';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { UNSIGNED_WARNING } from '@/lib/backup/manifest-signature';
import { getPool } from '@/lib/db/pool';
import { requireAdmin } from '@/lib/http/page-auth';
import { describeScheduleFor } from '@/lib/i18n/describe-schedule';
import { formatDateTime, formatNumber } from '@/lib/i18n/format-date-time';
import { formatBytes, formatDuration } from '@/lib/i18n/format-units';
import { toLocale } from '@/lib/i18n/locales';
import { decodeCursor } from '@/lib/queries/backups';
import type { BackupHistoryRow } from '@/lib/queries/backups';
import { backupsDashboard } from '@/lib/queries/backups-dashboard';
import { EXPORTABLE_TABLES } from '@/lib/queries/table-export';

export const dynamic = 'force-dynamic';

export async function generateMetadata() {
  const [t, c] = await Promise.all([getTranslations('backups'), getTranslations('common')]);
  return { title: `${t('title')} · ${c('pageTitle')}` };
}

const CELL = 'px-3 py-2 align-top max-md:flex max-md:gap-2 max-md:px-0 max-md:py-0.5 max-md:before:w-28 max-md:before:shrink-0 max-md:before:font-medium max-md:before:text-slate-500 max-md:before:content-[attr(data-label)]';

function Card({ stat, label, value, note, tone = 'plain' }: { stat: string; label: string; value: string; note?: string; tone?: 'plain' | 'good' | 'bad' | 'warn' }) {
  const color = tone === 'good' ? 'text-emerald-700' : tone === 'bad' ? 'text-red-700' : tone === 'warn' ? 'text-amber-700' : 'text-slate-900';
  return (
    <div className="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
      <p className="text-sm font-medium text-slate-500">{label}</p>
      <p data-stat={stat} className={`mt-2 text-xl font-semibold tabular-nums break-words ${color}`}>{value}</p>
      {note && <p className="mt-1 text-xs text-slate-500 break-words">{note}</p>}
    </div>
  );
}

// /admin/backups – the backup dashboard (super_admin and admin; staff are sent to the dashboard).
export default async function BackupsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const admin = await requireAdmin(BACKUP_ROLES);
  const sp = await searchParams;
  const cursorText = Array.isArray(sp.cursor) ? sp.cursor[0] : sp.cursor;
  const before = cursorText ? decodeCursor(cursorText) ?? undefined : undefined;
  const locale = toLocale(await getLocale());
  const t = await getTranslations('backups');
  const d = await backupsDashboard(getPool(), { before });
  const when = (x: Date | string | null) => (x ? formatDateTime(new Date(x), locale) : t('stats.never'));
  const num = (n: number | null) => (n === null ? '—' : formatNumber(n, locale));
  const health = d.health;
  const healthTone = health.status === 'ok' ? 'good' : health.status === 'failing' ? 'bad' : 'warn';
  const chart: ChartPoint[] = d.chart.map((r) => ({
    id: r.id,
    label: formatDateTime(r.startedAt, locale, { dateOnly: true }),
    sizeMb: r.sizeBytes === null ? null : Math.round(r.sizeBytes / 10_000) / 100,
    durationS: r.durationMs === null ? null : Math.round(r.durationMs / 100) / 10,
    failed: r.failed,
  }));
  const verifiedText = (b: BackupHistoryRow) => {
    const parts = [b.verifiedAt ? t('history.verifiedOk') : t('history.notVerified')];
    if (b.drillOk !== null) parts.push(b.drillOk ? t('history.drillOk') : t('history.drillFailed'));
    // Without a key every backup is unsigned: the configuration card says so once, not every row.
    if (b.signature && (b.signature.state !== 'unsigned' || b.signature.refused)) parts.push(t(`history.signature.${b.signature.refused ? (b.signature.state === 'bad' ? 'bad' : 'missing') : 'signed'}`));
    return parts.join(' · ');
  };
  const trigger = (x: string) => (['cron', 'schedule', 'manual', 'cli'].includes(x) ? t(`history.triggers.${x as 'cron'}`) : x);
  const status = (x: string) => (['running', 'succeeded', 'failed', 'deleted'].includes(x) ? t(`history.statuses.${x as 'running'}`) : x);
  const canAdminister = admin.role === 'super_admin';

  return (
    <>
      <PageHeader title={t('title')} subtitle={t('subtitle')} />
      <div className="space-y-6">
        <section aria-label={t('stats.label')} className="grid grid-cols-2 gap-3 md:grid-cols-4 xl:grid-cols-7">
          <Card stat="total" label={t('stats.total')} value={num(d.stats.totalBackups)} />
          <Card stat="successful" label={t('stats.successful')} value={num(d.stats.successfulBackups)} tone="good" />
          <Card stat="failed" label={t('stats.failed')} value={num(d.stats.failedBackups)} tone={d.stats.failedBackups > 0 ? 'bad' : 'plain'} note={d.stats.lastFailure?.error ? t('stats.lastFailure', { error: d.stats.lastFailure.error }) : undefined} />
          <Card stat="lastBackup" label={t('stats.lastBackup')} value={when(d.stats.lastBackupTime)} />
          <Card stat="averageSize" label={t('stats.averageSize')} value={formatBytes(d.stats.averageBackupSize, locale)} />
          <Card
            stat="health"
            label={t('stats.health')}
            value={t(`stats.healthStatus.${health.status}`)}
            tone={healthTone}
            note={health.ageHours !== null ? t('stats.healthAge', { age: formatNumber(health.ageHours, locale), max: formatNumber(health.maxAgeHours, locale) }) : t('stats.healthNone')}
          />
          <Card stat="nextRun" label={t('stats.nextRun')} value={d.scheduleError ? t('stats.scheduleError') : d.nextRun ? when(d.nextRun) : t('stats.scheduleOff')} tone={d.scheduleError ? 'bad' : 'plain'} note={d.scheduleError ?? undefined} />
        </section>

        <div className="grid gap-6 lg:grid-cols-2">
          <ManualBackup runningId={d.runningId} />
          <section aria-labelledby="chart-title" className="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5">
            <h2 id="chart-title" className="text-base font-semibold text-slate-900">{t('chart.title')}</h2>
            {chart.length === 0 ? (
              <p className="mt-3 text-sm text-slate-500">{t('chart.empty')}</p>
            ) : (
              <>
                <p className="mt-1 text-xs text-slate-500">{t('chart.summary', { count: chart.length })}</p>
                <BackupChart points={chart} sizeLabel={t('chart.size')} durationLabel={t('chart.duration')} />
                <details className="mt-2 text-sm">
                  <summary className="cursor-pointer text-slate-700">{t('chart.tableCaption')}</summary>
                  <div tabIndex={0} className="mt-2 max-h-60 overflow-auto">
                    <table className="w-full text-left text-xs">
                      <caption className="sr-only">{t('chart.tableCaption')}</caption>
                      <thead><tr><th scope="col" className="py-1">{t('history.time')}</th><th scope="col">{t('chart.size')}</th><th scope="col">{t('chart.duration')}</th><th scope="col">{t('history.status')}</th></tr></thead>
                      <tbody>
                        {chart.map((p) => (
                          <tr key={p.id}><td className="py-0.5">{p.label}</td><td>{p.sizeMb === null ? '—' : formatNumber(p.sizeMb, locale)}</td><td>{p.durationS === null ? '—' : formatNumber(p.durationS, locale)}</td><td>{p.failed ? t('chart.failed') : status('succeeded')}</td></tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </details>
              </>
            )}
          </section>
        </div>

        <section aria-labelledby="history-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5">
          <h2 id="history-title" className="text-base font-semibold text-slate-900">{t('history.title')}</h2>
          <BackupsAnnouncer />
          {d.history.length === 0 ? (
            <p className="mt-3 text-sm text-slate-500">{t('history.empty')}</p>
          ) : (
            <div className="mt-3 md:overflow-x-auto" tabIndex={0} aria-labelledby="history-title" role="region">
            <table className="w-full text-left text-sm max-md:block">
              <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500 max-md:sr-only">
                <tr>
                  {(['time', 'description', 'trigger', 'status', 'tables', 'rows', 'size', 'duration', 'verified', 'actions'] as const).map((k) => (
                    <th key={k} scope="col" className="px-3 py-2 font-medium">{t(`history.${k}`)}</th>
                  ))}
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100 max-md:block max-md:divide-y-0">
                {d.history.map((b) => (
                  <tr key={b.id} data-backup-id={b.id} data-status={b.status} className="max-md:mb-3 max-md:block max-md:rounded-lg max-md:border max-md:border-slate-200 max-md:p-3">
                    <td className={CELL} data-label={t('history.time')}>
                      <span className="whitespace-nowrap max-md:whitespace-normal">{formatDateTime(b.startedAt, locale)}</span>
                    </td>
                    <td className={`${CELL} max-w-xs break-words`} data-label={t('history.description')}>
                      <span>{b.description || '—'}{b.triggeredBy && <span className="block text-xs text-slate-500">{t('history.by', { name: b.triggeredBy.fullName })}</span>}</span>
                    </td>
                    <td className={CELL} data-label={t('history.trigger')}>{trigger(b.trigger)}</td>
                    <td className={CELL} data-label={t('history.status')}>
                      <span>
                        <span className={b.status === 'failed' ? 'font-medium text-red-700' : b.status === 'succeeded' ? 'text-emerald-800' : 'text-slate-700'}>{status(b.status)}</span>
                        {b.status === 'failed' && b.error && <span className="block max-w-xs break-words text-xs text-red-700" data-error>{b.error}</span>}
                      </span>
                    </td>
                    <td className={`${CELL} tabular-nums`} data-label={t('history.tables')}>{num(b.tableCount)}</td>
                    <td className={`${CELL} tabular-nums`} data-label={t('history.rows')}>{num(b.rowCount)}</td>
                    <td className={`${CELL} tabular-nums whitespace-nowrap`} data-label={t('history.size')}>{b.sizeBytes === null ? '—' : formatBytes(b.sizeBytes, locale)}</td>
                    <td className={`${CELL} tabular-nums whitespace-nowrap`} data-label={t('history.duration')}>{b.durationMs === null ? '—' : formatDuration(b.durationMs, locale)}</td>
                    <td className={CELL} data-label={t('history.verified')}>{b.status === 'succeeded' ? verifiedText(b) : '—'}</td>
                    <td className={CELL} data-label={t('history.actions')}>
                      <BackupActions id={b.id} status={b.status} canAdminister={canAdminister} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
          )}
          <nav className="mt-3 flex justify-between text-sm" aria-label={t('history.title')}>
            {before ? <Link className="text-emerald-800 underline" href="/admin/backups">{t('history.newest')}</Link> : <span />}
            {d.nextCursor && <Link className="text-emerald-800 underline" href={`/admin/backups?cursor=${d.nextCursor}`}>{t('history.older')}</Link>}
          </nav>
        </section>

        <div className="grid gap-6 lg:grid-cols-2">
          <ExportForm tables={EXPORTABLE_TABLES} backups={d.exportableBackups.map((b) => ({ id: b.id, label: formatDateTime(b.startedAt, locale) }))} />
          <section aria-labelledby="info-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5">
            <h2 id="info-title" className="text-base font-semibold text-slate-900">{t('info.title')}</h2>
            <dl className="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-2 text-sm">
              <dt className="text-slate-500">{t('info.schedule')}</dt>
              <dd className="break-words" data-info="schedule" title={d.info.scheduleSpec?.expression}>
                {d.scheduleError ? t('info.scheduleProblem', { problem: d.scheduleError }) : !d.info.scheduleSpec ? t('info.scheduleOff') : describeScheduleFor(d.info.scheduleSpec, locale, (key, values) => t(`info.${key}`, values))}
              </dd>
              <dt className="text-slate-500">{t('info.retention')}</dt>
              <dd className="break-words">{d.info.retentionError ? t('info.retentionProblem', { problem: d.info.retentionError }) : t('info.retentionValue', { days: num(d.info.retentionDays), min: num(d.info.retentionMin) })}</dd>
              <dt className="text-slate-500">{t('info.storage')}</dt>
              <dd className="break-all" data-info="storage">{d.info.storage}</dd>
              <dt className="text-slate-500">{t('info.encryption')}</dt>
              <dd data-info="encryption" data-encrypted={d.info.encrypted ? 'true' : 'false'} className={`break-words ${d.info.encryptionProblem ? 'text-red-700' : d.info.encrypted ? 'text-emerald-800' : 'text-amber-800'}`}>
                {d.info.encryptionProblem
                  ? t('info.encryptionProblem', { problem: d.info.encryptionProblem })
                  : d.info.encrypted
                    ? t('info.encryptionOn', { count: d.info.encryptionRecipients, recipients: num(d.info.encryptionRecipients) })
                    : t('info.encryptionOff')}
              </dd>
              <dt className="text-slate-500">{t('info.signing')}</dt>
              <dd className={`break-words ${d.info.signing.configured ? '' : 'text-amber-800'}`} data-info="signing">{d.info.signing.configured ? t('info.signingOn') : d.info.signing.warning === UNSIGNED_WARNING || !d.info.signing.warning ? t('info.signingOff') : t('info.signingProblem', { problem: d.info.signing.warning })}</dd>
              <dt className="text-slate-500">{t('info.drill')}</dt>
              <dd>{['off', 'weekly', 'daily'].includes(d.info.drillPolicy) ? t(`info.drillPolicies.${d.info.drillPolicy as 'off'}`) : d.info.drillPolicy}</dd>
              <dt className="text-slate-500">{t('info.runbook')}</dt>
              <dd>{t('info.runbookValue')}</dd>
            </dl>
          </section>
        </div>
      </div>
    </>
  );
}
