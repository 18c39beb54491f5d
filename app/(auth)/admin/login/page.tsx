import { redirect } from 'next/navigation';
import { getTranslations } from 'next-intl/server';
import { ShieldCheck } from 'lucide-react';
import { LocaleToggle } from '@/components/locale-toggle';
import { LoginForm } from '@/components/login-form';
import { optionalAdmin } from '@/lib/http/page-auth';
import { safeNextPath } from '@/lib/http/safe-next-path';

export async function generateMetadata() {
  const [t, c] = await Promise.all([getTranslations('login'), getTranslations('common')]);
  return { title: `${t('submit')} · ${c('pageTitle')}` };
}

// /admin/login – lives in the (auth) route group so the signed-in admin shell does not wrap it.
export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const next = safeNextPath((await searchParams).next);
  if (await optionalAdmin()) redirect(next);
  const t = await getTranslations('login');
  const c = await getTranslations('common');
  return (
    <main className="flex min-h-screen flex-col items-center justify-center bg-gradient-to-b from-slate-100 to-slate-200 px-4 py-10">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex flex-col items-center text-center">
          <span className="flex size-12 items-center justify-center rounded-xl bg-emerald-700 text-white shadow">
            <ShieldCheck aria-hidden className="size-6" />
          </span>
          <p className="mt-3 text-sm font-medium tracking-wide text-emerald-800">{c('appName')} · {c('tagline')}</p>
        </div>
        <div className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
          <h1 className="text-xl font-semibold text-slate-900">{t('title')}</h1>
          <p className="mt-1 mb-5 text-sm text-slate-500">{t('subtitle')}</p>
          <LoginForm next={next} />
        </div>
        <div className="mt-6 flex justify-center">
          <LocaleToggle />
        </div>
      </div>
    </main>
  );
}
