import { Languages } from 'lucide-react';
import { getLocale, getTranslations } from 'next-intl/server';
import { setLocale } from '@/app/actions/set-locale';
import { LOCALES } from '@/lib/i18n/locales';

/** English / አማርኛ switch: a form posting to a server action (works without client JavaScript). */
export async function LocaleToggle({ tone = 'light' }: { tone?: 'light' | 'dark' }) {
  const t = await getTranslations('language');
  const current = await getLocale();
  const dark = tone === 'dark';
  return (
    <form action={setLocale} className="flex items-center gap-2" aria-label={t('label')}>
      <Languages aria-hidden className={dark ? 'size-4 text-slate-400' : 'size-4 text-slate-500'} />
      <div className={`inline-flex rounded-md p-0.5 ${dark ? 'bg-slate-800' : 'bg-slate-200'}`}>
        {LOCALES.map((l) => {
          const active = l === current;
          return (
            <button
              key={l}
              type="submit"
              name="locale"
              value={l}
              aria-pressed={active}
              lang={l}
              className={`rounded px-2.5 py-1 text-xs font-medium transition-colors ${
                active
                  ? dark ? 'bg-slate-600 text-white' : 'bg-white text-slate-900 shadow-sm'
                  : dark ? 'text-slate-300 hover:text-white' : 'text-slate-600 hover:text-slate-900'
              }`}
            >
              {t(l)}
            </button>
          );
        })}
      </div>
    </form>
  );
}
