import Link from 'next/link';
import { getTranslations } from 'next-intl/server';

// Unknown /admin/* routes (after the session check) render this inside the admin shell.
export default async function AdminNotFound() {
  const t = await getTranslations('notFound');
  return (
    <div className="rounded-xl border border-slate-200 bg-white px-6 py-14 text-center">
      <p className="text-5xl font-bold text-slate-300">404</p>
      <h1 className="mt-2 text-xl font-semibold">{t('title')}</h1>
      <p className="mt-1 text-slate-600">{t('body')}</p>
      <Link href="/admin" className="mt-4 inline-block rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800">
        {t('back')}
      </Link>
    </div>
  );
}
