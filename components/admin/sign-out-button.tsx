'use client';

import { useState } from 'react';
import { useRouter } from 'next/navigation';
import { useTranslations } from 'next-intl';
import { LogOut } from 'lucide-react';

/** Ends the session through POST /api/auth/logout, then shows the login page. */
export function SignOutButton() {
  const t = useTranslations('nav');
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  async function signOut() {
    setBusy(true);
    try {
      await fetch('/api/auth/logout', { method: 'POST' });
    } finally {
      router.replace('/admin/login');
      router.refresh();
    }
  }
  return (
    <button
      type="button" onClick={signOut} disabled={busy}
      className="flex w-full items-center gap-2 rounded-md px-3 py-2 text-sm text-slate-300 hover:bg-slate-800 hover:text-white disabled:opacity-60"
    >
      <LogOut aria-hidden className="size-4" />
      {busy ? t('signingOut') : t('signOut')}
    </button>
  );
}
