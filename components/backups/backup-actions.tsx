'use client';

import { useState } from 'react';
import { useLocale, useTranslations } from 'next-intl';
import { useRouter } from 'next/navigation';
import { ClipboardCopy, Download, FileJson, FlaskConical, ShieldCheck, Terminal, Trash2 } from 'lucide-react';
import { apiErrorText } from '@/lib/i18n/api-error';
import { formatNumber } from '@/lib/i18n/format-date-time';
import { toLocale } from '@/lib/i18n/locales';
import { ModalDialog } from './modal-dialog';
import { announceInHistory } from './backups-announcer';

const BTN =
  'inline-flex items-center gap-1.5 rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-xs font-medium text-slate-800 hover:bg-slate-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-700 disabled:opacity-60';

/** The actions of one backup in the history: download, manifest, verify, drill, delete, restore command. */
export function BackupActions({ id, status, canAdminister }: { id: string; status: string; canAdminister: boolean }) {
  const t = useTranslations('backups.actions');
  const apiError = useTranslations('apiErrors');
  const locale = toLocale(useLocale());
  const router = useRouter();
  const [busy, setBusy] = useState<'verify' | 'drill' | 'delete' | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [dialog, setDialog] = useState<'delete' | 'restore' | null>(null);
  const [copied, setCopied] = useState(false);
  const stored = status === 'succeeded';
  const command = `npx tickethub-backup restore ${id} --target-db restored_${id.slice(0, 8)} --create`;

  async function post(kind: 'verify' | 'drill') {
    setBusy(kind);
    setMessage(null);
    try {
      const res = await fetch(`/api/admin/backups/${id}/${kind}`, { method: 'POST' });
      const body = await res.json().catch(() => null);
      if (!res.ok) setMessage({ ok: false, text: t('error', { error: apiErrorText(apiError, body, res.status) }) });
      else if (kind === 'verify') {
        setMessage(body.ok ? { ok: true, text: t('verifyOk') } : { ok: false, text: t('verifyFailed', { count: formatNumber(body.problems.length, locale), first: body.problems[0]?.problem ?? '' }) });
      } else {
        setMessage(body.ok ? { ok: true, text: t('drillOk', { tables: formatNumber(body.tables.length, locale), rows: formatNumber(body.rows, locale) }) } : { ok: false, text: t('drillFailed', { error: body.error ?? '' }) });
      }
      router.refresh();
    } catch {
      setMessage({ ok: false, text: t('error', { error: apiErrorText(apiError, null) }) });
    }
    setBusy(null);
  }

  async function remove() {
    setBusy('delete');
    const res = await fetch(`/api/admin/backups/${id}`, { method: 'DELETE' }).catch(() => null);
    const body = await res?.json().catch(() => null);
    setBusy(null);
    setDialog(null);
    if (res?.ok) {
      // This row goes away with the refresh: say it where it stays (and focus goes there).
      announceInHistory(t('deleted', { id }), true);
      router.refresh();
    } else setMessage({ ok: false, text: t('error', { error: apiErrorText(apiError, body, res?.status) }) });
  }

  if (status === 'running' || status === 'deleted') return null;
  return (
    <div className="flex flex-wrap gap-1.5">
      {stored && (
        <>
          <a className={BTN} href={`/api/admin/backups/${id}/download`} download>
            <Download aria-hidden className="size-3.5" />
            {t('download')}
          </a>
          <a className={BTN} href={`/api/admin/backups/${id}/manifest`} download>
            <FileJson aria-hidden className="size-3.5" />
            {t('manifest')}
          </a>
          <button type="button" className={BTN} disabled={busy !== null} onClick={() => post('verify')}>
            <ShieldCheck aria-hidden className="size-3.5" />
            {busy === 'verify' ? t('verifying') : t('verify')}
          </button>
          {canAdminister && (
            <button type="button" className={BTN} disabled={busy !== null} onClick={() => post('drill')}>
              <FlaskConical aria-hidden className="size-3.5" />
              {busy === 'drill' ? t('drilling') : t('drill')}
            </button>
          )}
          <button type="button" className={BTN} onClick={() => setDialog('restore')}>
            <Terminal aria-hidden className="size-3.5" />
            {t('restore')}
          </button>
        </>
      )}
      {canAdminister && (
        <button type="button" className={`${BTN} text-red-700`} disabled={busy !== null} onClick={() => setDialog('delete')}>
          <Trash2 aria-hidden className="size-3.5" />
          {t('delete')}
        </button>
      )}
      {message && (
        <p role="status" className={`w-full text-xs ${message.ok ? 'text-emerald-800' : 'text-red-700'}`}>
          {message.text}
        </p>
      )}
      <ModalDialog open={dialog === 'restore'} onClose={() => setDialog(null)} title={t('restoreTitle', { id })}>
        <p>{t('restoreBody')}</p>
        <pre tabIndex={0} className="mt-3 overflow-x-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100"><code>{command}</code></pre>
        <div className="mt-4 flex justify-end gap-2">
          <button
            type="button"
            className={BTN}
            onClick={async () => {
              await navigator.clipboard?.writeText(command).catch(() => {});
              setCopied(true);
            }}
          >
            <ClipboardCopy aria-hidden className="size-3.5" />
            {copied ? t('copied') : t('copy')}
          </button>
          <button type="button" className={BTN} onClick={() => setDialog(null)} autoFocus>
            {t('close')}
          </button>
        </div>
      </ModalDialog>
      <ModalDialog open={dialog === 'delete'} onClose={() => setDialog(null)} title={t('deleteTitle', { id })}>
        <p>{t('deleteBody')}</p>
        <div className="mt-4 flex justify-end gap-2">
          <button type="button" className={BTN} onClick={() => setDialog(null)} autoFocus>
            {t('cancel')}
          </button>
          <button type="button" className={`${BTN} border-red-700 bg-red-700 text-white hover:bg-red-800`} disabled={busy === 'delete'} onClick={remove}>
            {t('deleteConfirm')}
          </button>
        </div>
      </ModalDialog>
    </div>
  );
}
