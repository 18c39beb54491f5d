'use client';

import { useEffect } from 'react';
import { useTranslations } from 'next-intl';

// Any page that fails on the server (database down, SESSION_SECRET unset) lands here instead of
// Next's untranslated default. The digest lets an operator find the entry in the server log.
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  const t = useTranslations('errors');
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="max-w-md rounded-xl border border-slate-200 bg-white p-8 text-center shadow-sm">
        <h1 className="text-xl font-semibold text-slate-900">{t('title')}</h1>
        <p className="mt-2 text-sm text-slate-600">{t('body')}</p>
        {error.digest && <p className="mt-3 font-mono text-xs text-slate-400">{t('reference', { digest: error.digest })}</p>}
        <button type="button" onClick={reset} className="mt-5 rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800">
          {t('retry')}
        </button>
      </div>
    </main>
  );
}
