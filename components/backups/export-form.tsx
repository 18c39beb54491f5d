'use client';

import { useState } from 'react';
import { useTranslations } from 'next-intl';
import { FileDown } from 'lucide-react';

/** Export one table (CSV) or all (ZIP), from live data or a chosen backup; the download starts at once. */
export function ExportForm({ tables, backups }: { tables: readonly string[]; backups: { id: string; label: string }[] }) {
  const t = useTranslations('backups.export');
  const [table, setTable] = useState('');
  const [source, setSource] = useState('');
  const q = new URLSearchParams();
  if (table) q.set('table', table);
  else q.set('all', 'true');
  if (source) q.set('backup', source);
  const href = `/api/admin/backups/export?${q.toString()}`;
  const select = 'mt-1 w-full rounded-md border border-slate-300 bg-white px-2.5 py-2 text-sm text-slate-900 shadow-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-700';
  return (
    <section aria-labelledby="export-title" className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5">
      <h2 id="export-title" className="text-base font-semibold text-slate-900">{t('title')}</h2>
      <div className="mt-3 grid gap-3 sm:grid-cols-2">
        <label className="text-sm font-medium text-slate-700">
          {t('table')}
          <select name="table" value={table} onChange={(e) => setTable(e.target.value)} className={select}>
            <option value="">{t('allTables')}</option>
            {tables.map((x) => (
              <option key={x} value={x}>{x}</option>
            ))}
          </select>
        </label>
        <label className="text-sm font-medium text-slate-700">
          {t('source')}
          <select name="backup" value={source} onChange={(e) => setSource(e.target.value)} className={select}>
            <option value="">{t('live')}</option>
            {backups.map((b) => (
              <option key={b.id} value={b.id}>{t('backupOption', { date: b.label })}</option>
            ))}
          </select>
        </label>
      </div>
      <a
        href={href}
        download
        data-testid="export-download"
        className="mt-3 inline-flex items-center gap-2 rounded-md bg-slate-800 px-3 py-2 text-sm font-medium text-white hover:bg-slate-900 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-emerald-700"
      >
        <FileDown aria-hidden className="size-4" />
        {t('submit')}
      </a>
      <p className="mt-2 text-xs text-slate-500">{t('note')}</p>
    </section>
  );
}
