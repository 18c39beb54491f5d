'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { useLocale, useTranslations } from 'next-intl';
import { useRouter } from 'next/navigation';
import { DatabaseBackup, LoaderCircle } from 'lucide-react';
import { apiErrorText } from '@/lib/i18n/api-error';
import { formatBytes, formatDuration } from '@/lib/i18n/format-units';
import { formatNumber } from '@/lib/i18n/format-date-time';
import { toLocale } from '@/lib/i18n/locales';
import type { BackupRunProgress } from '@/lib/queries/backup-detail';

/** Progress as the event stream sends it (older rows may lack the page counts). */
type Progress = Omit<BackupRunProgress, 'pagesDone' | 'pagesTotal' | 'elapsedMs'> & Partial<Pick<BackupRunProgress, 'pagesDone' | 'pagesTotal' | 'elapsedMs'>>;

type State =
  | { kind: 'idle' }
  | { kind: 'starting' }
  | { kind: 'running'; id: string; mine: boolean; progress: Progress | null }
  | { kind: 'done'; id: string; rows: number; tables: number; sizeBytes: number }
  | { kind: 'failed'; message: string }
  | { kind: 'lost'; id: string; message: string };

const PHASES = ['starting', 'connecting', 'schema', 'data', 'finishing', 'verifying', 'done'] as const;

/**
 * "Manual Backup Now" with live progress. Starts the backup in the background (POST create?async=1),
 * follows it through the event stream (progress read from the run's row, so any server instance
 * serves it), then refreshes the page for the new history row. Disabled, with the reason, while any
 * backup runs anywhere: the page says so at load, and a light poll notices backups started later
 * by another tab, the schedule or the CLI.
 */
export function ManualBackup({ runningId }: { runningId: string | null }) {
  const t = useTranslations('backups.manual');
  const apiError = useTranslations('apiErrors');
  const locale = toLocale(useLocale());
  const router = useRouter();
  const [state, setState] = useState<State>(runningId ? { kind: 'running', id: runningId, mine: false, progress: null } : { kind: 'idle' });
  const [description, setDescription] = useState('');
  const source = useRef<EventSource | null>(null);
  const retry = useRef<ReturnType<typeof setTimeout> | null>(null);

  const follow = useCallback(
    (id: string, mine: boolean) => {
      source.current?.close();
      if (retry.current) clearTimeout(retry.current);
      const es = new EventSource(`/api/admin/backups/${id}/events`);
      source.current = es;
      // The stream failed for good (EventSource gave up: a 401 after the session expired, a 404,
      // a server error; while it only reconnects its state is CONNECTING): ask for the run itself.
      // Before, the button stayed disabled with its spinner and nothing said why until a reload.
      es.addEventListener('error', () => {
        if (es.readyState !== EventSource.CLOSED || source.current !== es) return;
        void (async () => {
          const res = await fetch(`/api/admin/backups/${encodeURIComponent(id)}`, { cache: 'no-store' }).catch(() => null);
          const b = res ? await res.json().catch(() => null) : null;
          if (source.current !== es) return;
          if (res?.ok && b?.status === 'running') {
            retry.current = setTimeout(() => follow(id, mine), 3000);
            return;
          }
          if (res?.ok && b?.status === 'succeeded') setState({ kind: 'done', id, rows: b.rows ?? 0, tables: b.tables?.length ?? 0, sizeBytes: b.sizeBytes ?? 0 });
          else if (res?.ok && b?.status === 'failed') setState({ kind: 'failed', message: String(b.error ?? '') });
          // A 200 with another status (the run was deleted meanwhile): say that status, not "HTTP 200".
          else if (res?.ok && typeof b?.status === 'string') setState({ kind: 'lost', id, message: t('lostStatus', { status: b.status }) });
          else setState({ kind: 'lost', id, message: apiErrorText(apiError, res?.ok ? null : b, res?.status) });
          source.current = null;
          router.refresh();
        })();
      });
      es.addEventListener('progress', (e) => setState({ kind: 'running', id, mine, progress: JSON.parse((e as MessageEvent).data) }));
      es.addEventListener('done', (e) => {
        es.close();
        const b = JSON.parse((e as MessageEvent).data);
        setState({ kind: 'done', id, rows: b.rows ?? 0, tables: b.tables?.length ?? 0, sizeBytes: b.sizeBytes ?? 0 });
        router.refresh();
      });
      es.addEventListener('failed', (e) => {
        es.close();
        setState({ kind: 'failed', message: (e as MessageEvent).data });
        router.refresh();
      });
    },
    [router, apiError, t],
  );

  useEffect(() => {
    if (runningId) follow(runningId, false);
    return () => {
      source.current?.close();
      if (retry.current) clearTimeout(retry.current);
    };
  }, [runningId, follow]);

  // Another tab, the schedule or the CLI may start a backup after this page loaded.
  useEffect(() => {
    if (state.kind === 'running' || state.kind === 'starting') return;
    const timer = setInterval(async () => {
      const res = await fetch('/api/admin/backups?limit=1', { cache: 'no-store' }).catch(() => null);
      if (!res?.ok) return;
      const top = (await res.json()).backups?.[0];
      if (top?.status === 'running') {
        setState({ kind: 'running', id: top.id, mine: false, progress: null });
        follow(top.id, false);
      }
    }, 5000);
    return () => clearInterval(timer);
  }, [state.kind, follow]);

  async function start() {
    setState({ kind: 'starting' });
    const res = await fetch('/api/admin/backups/create?async=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(description.trim() ? { description: description.trim() } : {}),
    }).catch(() => null);
    if (!res) return setState({ kind: 'failed', message: t('error', { error: apiErrorText(apiError, null) }) });
    const body = await res.json().catch(() => null);
    if (res.status !== 202) return setState({ kind: 'failed', message: t('error', { error: apiErrorText(apiError, body, res.status) }) });
    setDescription('');
    setState({ kind: 'running', id: body.id, mine: true, progress: null });
    follow(body.id, true);
  }

  const busy = state.kind === 'running' || state.kind === 'starting';
  const p = state.kind === 'running' ? state.progress : null;
  const phase = p && (PHASES as readonly string[]).includes(p.phase) ? (p.phase as (typeof PHASES)[number]) : 'starting';
  const fraction = p && p.pagesTotal ? Math.min(1, (p.pagesDone ?? 0) / p.pagesTotal) : p && p.tablesTotal ? p.tablesDone / p.tablesTotal : 0;
  const eta = p && fraction > 0.02 && p.elapsedMs ? (p.elapsedMs * (1 - fraction)) / fraction : null;
  const num = { format: (n: number) => formatNumber(n, locale) };

  return (
    <section aria-labelledby="manual-backup-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5">
      <h2 id="manual-backup-title" className="text-base font-semibold text-slate-900">{t('title')}</h2>
      <form
        className="mt-3 flex flex-col gap-3 sm:flex-row sm:items-end"
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) void start();
        }}
      >
        <label className="flex min-w-0 flex-1 flex-col text-sm font-medium text-slate-700">
          {t('descriptionLabel')}
          <input
            name="description"
            value={description}
            maxLength={500}
            onChange={(e) => setDescription(e.target.value)}
            placeholder={t('descriptionHint')}
            className="mt-1 rounded-md border border-slate-300 px-3 py-2 text-sm text-slate-900 shadow-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-700"
          />
        </label>
        <button
          type="submit"
          disabled={busy}
          aria-describedby={busy ? 'manual-backup-reason' : undefined}
          data-testid="manual-backup"
          className="inline-flex items-center justify-center gap-2 rounded-md bg-emerald-700 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-emerald-800 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-700 disabled:cursor-not-allowed disabled:bg-slate-400"
        >
          {busy ? <LoaderCircle aria-hidden className="size-4 animate-spin" /> : <DatabaseBackup aria-hidden className="size-4" />}
          {state.kind === 'starting' ? t('starting') : t('start')}
        </button>
      </form>
      <div role="status" aria-live="polite" className="mt-3 text-sm">
        {state.kind === 'running' && (
          <div data-testid="backup-progress" className="rounded-md border border-emerald-200 bg-emerald-50 p-3 text-emerald-950">
            <p id="manual-backup-reason" className="font-medium">{t('runningReason', { id: state.id })}</p>
            <p className="mt-1" data-phase={phase}>{t('progressTitle')}: {t(`phase.${phase}`)}</p>
            <progress className="mt-2 h-2 w-full accent-emerald-700" max={1} value={fraction} aria-label={t('progressTitle')} />
            {p && (
              <ul className="mt-2 grid gap-1 sm:grid-cols-2">
                <li>{t('tables', { done: num.format(p.tablesDone), total: num.format(p.tablesTotal) })}</li>
                <li>{t('rows', { rows: num.format(p.rows) })}</li>
                <li>{t('bytes', { raw: formatBytes(p.rawBytes, locale), archive: formatBytes(p.archiveBytes, locale) })}</li>
                <li>{eta !== null ? t('eta', { time: formatDuration(eta, locale) }) : t('etaUnknown')}</li>
              </ul>
            )}
          </div>
        )}
        {state.kind === 'done' && (
          <p data-testid="backup-result" className="rounded-md border border-emerald-200 bg-emerald-50 p-3 text-emerald-900">
            {t('done', { id: state.id, rows: num.format(state.rows), tables: num.format(state.tables), size: formatBytes(state.sizeBytes, locale) })}
          </p>
        )}
        {state.kind === 'lost' && (
          <p data-testid="backup-result" className="rounded-md border border-amber-200 bg-amber-50 p-3 text-amber-900">{t('lost', { id: state.id, error: state.message })}</p>
        )}
        {state.kind === 'failed' && (
          <p data-testid="backup-result" className="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{t('failed', { error: state.message })}</p>
        )}
      </div>
    </section>
  );
}
