'use client';

import { useState } from 'react';
import type { FormEvent } from 'react';
import { useRouter } from 'next/navigation';
import { useTranslations } from 'next-intl';
import { LoaderCircle } from 'lucide-react';

/**
 * The sign-in form: posts JSON to /api/auth/login and, on success, goes to `next` (the page that
 * was asked for, already checked by safeNextPath on the server) or the dashboard.
 */
export function LoginForm({ next = '/admin' }: { next?: string }) {
  const t = useTranslations('login');
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const email = String(form.get('email') ?? '').trim();
    const password = String(form.get('password') ?? '');
    if (!email || !password) {
      setError(t('missing'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      if (res.ok) {
        // A browser that dropped the cookie (Secure over plain http) would bounce back here
        // forever: check the session took, and say why when it did not.
        const me = await fetch('/api/admin/me', { cache: 'no-store' });
        if (me.status === 401) {
          setError(t('cookieRejected'));
          setBusy(false);
          return;
        }
        router.replace(next);
        router.refresh();
        return;
      }
      if (res.status === 401) setError(t('invalid'));
      else if (res.status === 429) {
        const seconds = Number(res.headers.get('retry-after') ?? 900);
        setError(t('tooMany', { minutes: Math.max(1, Math.ceil(seconds / 60)) }));
      } else if (res.status === 400) setError(t('missing'));
      else setError(t('server'));
    } catch {
      setError(t('network'));
    }
    setBusy(false);
  }

  return (
    <form onSubmit={onSubmit} className="space-y-4" noValidate>
      <div>
        <label htmlFor="email" className="block text-sm font-medium text-slate-700">{t('email')}</label>
        <input
          id="email" name="email" type="email" autoComplete="username" required autoFocus
          className="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 shadow-sm outline-none focus:border-emerald-600 focus:ring-2 focus:ring-emerald-600/20"
        />
      </div>
      <div>
        <label htmlFor="password" className="block text-sm font-medium text-slate-700">{t('password')}</label>
        <input
          id="password" name="password" type="password" autoComplete="current-password" required
          className="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 shadow-sm outline-none focus:border-emerald-600 focus:ring-2 focus:ring-emerald-600/20"
        />
      </div>
      {error && (
        <p role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">{error}</p>
      )}
      <button
        type="submit" disabled={busy}
        className="flex w-full items-center justify-center gap-2 rounded-md bg-emerald-700 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-emerald-800 disabled:opacity-60"
      >
        {busy && <LoaderCircle aria-hidden className="size-4 animate-spin" />}
        {busy ? t('submitting') : t('submit')}
      </button>
    </form>
  );
}
