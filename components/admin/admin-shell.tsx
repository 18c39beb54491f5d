'use client';

import { useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useTranslations } from 'next-intl';
import { Activity, Database, LayoutDashboard, Menu, ShieldCheck, X } from 'lucide-react';
import type { AdminRole } from '@/lib/auth/admin-users';
import { SignOutButton } from './sign-out-button';

const NAV = [
  { href: '/admin', key: 'dashboard', icon: LayoutDashboard, exact: true },
  { href: '/admin/backups', key: 'backups', icon: Database, exact: false },
  { href: '/admin/activity', key: 'activity', icon: Activity, exact: false },
] as const;

export interface AdminShellProps {
  user: { fullName: string; email: string; role: AdminRole };
  /** Whether this admin's role may open Backups (staff may not: the link is hidden). */
  canSeeBackups: boolean;
  /** The language toggle (a server component, passed in as a slot). */
  localeToggle: ReactNode;
  children: ReactNode;
}

/**
 * The signed-in frame: a fixed sidebar from the md breakpoint up; below it a top bar whose menu
 * button slides the same sidebar in over the page (usable on a 375 px phone).
 */
export function AdminShell({ user, canSeeBackups, localeToggle, children }: AdminShellProps) {
  const t = useTranslations('nav');
  const c = useTranslations('common');
  const r = useTranslations('roles');
  const pathname = usePathname();
  const [open, setOpen] = useState(false);

  const drawer = useRef<HTMLDivElement>(null);
  const menuButton = useRef<HTMLButtonElement>(null);

  // Navigating closes the mobile menu.
  useEffect(() => setOpen(false), [pathname]);

  // While the phone menu is open: Escape closes it (focus back on the menu button) and Tab stays
  // inside it, as a modal dialog should.
  useEffect(() => {
    if (!open) return;
    const root = drawer.current;
    const focusables = () => Array.from(root?.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), select, input') ?? []);
    focusables()[0]?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        setOpen(false);
        menuButton.current?.focus();
        return;
      }
      if (e.key !== 'Tab') return;
      const list = focusables();
      if (!list.length) return;
      const first = list[0];
      const last = list[list.length - 1];
      if (e.shiftKey && (document.activeElement === first || !root?.contains(document.activeElement))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !root?.contains(document.activeElement))) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);

  const items = NAV.filter((n) => n.key !== 'backups' || canSeeBackups);

  const sidebar = (
    <div className="flex h-full flex-col bg-slate-900 text-slate-100">
      <div className="flex items-center gap-2.5 px-5 py-5">
        <span className="flex size-8 items-center justify-center rounded-lg bg-emerald-600 text-white">
          <ShieldCheck aria-hidden className="size-5" />
        </span>
        <div className="leading-tight">
          <p className="font-semibold">{c('appName')}</p>
          <p className="text-xs text-slate-400">{c('tagline')}</p>
        </div>
      </div>
      <nav aria-label={t('main')} className="flex-1 space-y-1 px-3">
        {items.map(({ href, key, icon: Icon, exact }) => {
          const active = exact ? pathname === href : pathname === href || pathname.startsWith(`${href}/`);
          return (
            <Link
              key={href}
              href={href}
              aria-current={active ? 'page' : undefined}
              className={`flex items-center gap-3 rounded-md px-3 py-2.5 text-sm font-medium transition-colors ${
                active ? 'bg-slate-800 text-white' : 'text-slate-300 hover:bg-slate-800/60 hover:text-white'
              }`}
            >
              <Icon aria-hidden className={`size-5 ${active ? 'text-emerald-400' : 'text-slate-400'}`} />
              {t(key)}
            </Link>
          );
        })}
      </nav>
      <div className="space-y-3 border-t border-slate-800 px-3 py-4">
        <div className="px-3">{localeToggle}</div>
        <div className="px-3">
          <p className="text-xs text-slate-400">{t('signedInAs')}</p>
          <p className="truncate text-sm font-medium" title={user.email}>{user.fullName}</p>
          <p className="text-xs text-emerald-400">{r(user.role)}</p>
        </div>
        <SignOutButton />
      </div>
    </div>
  );

  return (
    <div className="min-h-screen md:pl-64">
      <a
        href="#main-content"
        className="sr-only focus:not-sr-only focus:fixed focus:top-2 focus:left-2 focus:z-50 focus:rounded-md focus:bg-white focus:px-3 focus:py-2 focus:text-sm focus:font-medium focus:text-emerald-800 focus:shadow"
      >
        {c('skipToContent')}
      </a>
      {/* Desktop sidebar */}
      <aside className="fixed inset-y-0 left-0 hidden w-64 md:block">{sidebar}</aside>

      {/* Mobile top bar */}
      <header className="sticky top-0 z-30 flex items-center justify-between border-b border-slate-200 bg-white/95 px-4 py-3 backdrop-blur md:hidden">
        <div className="flex items-center gap-2">
          <span className="flex size-7 items-center justify-center rounded-md bg-emerald-600 text-white">
            <ShieldCheck aria-hidden className="size-4" />
          </span>
          <span className="font-semibold">{c('appName')}</span>
        </div>
        <button
          type="button"
          ref={menuButton}
          onClick={() => setOpen(true)}
          aria-label={t('openMenu')}
          aria-expanded={open}
          aria-controls="mobile-nav"
          className="rounded-md p-2 text-slate-700 hover:bg-slate-100"
        >
          <Menu aria-hidden className="size-6" />
        </button>
      </header>

      {/* Mobile drawer */}
      {open && (
        <div ref={drawer} className="fixed inset-0 z-40 md:hidden" id="mobile-nav" role="dialog" aria-modal="true" aria-label={t('main')}>
          <button type="button" aria-label={t('closeMenu')} className="absolute inset-0 bg-slate-900/50" onClick={() => setOpen(false)} />
          <div className="absolute inset-y-0 left-0 w-72 max-w-[85vw] shadow-xl">
            {sidebar}
            <button
              type="button"
              onClick={() => setOpen(false)}
              aria-label={t('closeMenu')}
              className="absolute top-4 right-3 rounded-md p-1.5 text-slate-400 hover:bg-slate-800 hover:text-white"
            >
              <X aria-hidden className="size-5" />
            </button>
          </div>
        </div>
      )}

      <main id="main-content" tabIndex={-1} className="mx-auto max-w-6xl px-4 py-6 outline-none sm:px-6 lg:px-8 lg:py-8">{children}</main>
    </div>
  );
}
