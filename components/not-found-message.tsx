import Link from 'next/link';
import { getTranslations } from 'next-intl/server';

/** The 404 text and the way back to the dashboard; the pages choose the frame around it. */
export async function NotFoundMessage() {
  const t = await getTranslations('notFound');
  return (
    <>
      <p className="text-5xl font-bold text-slate-300">404</p>
      <h1 className="mt-2 text-xl font-semibold">{t('title')}</h1>
      <p className="mt-1 text-slate-600">{t('body')}</p>
      <Link href="/admin" className="mt-4 inline-block rounded-md bg-emerald-700 px-4 py-2 text-sm font-medium text-white hover:bg-emerald-800">
        {t('back')}
      </Link>
    </>
  );
}
