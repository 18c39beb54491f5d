import { cookies } from 'next/headers';
import { getRequestConfig } from 'next-intl/server';
import { LOCALE_COOKIE, appTimeZone, toLocale } from './locales';

/**
 * next-intl request configuration ("without i18n routing"): the locale is read from the
 * NEXT_LOCALE cookie on every request; an absent or unknown value means English.
 */
export default getRequestConfig(async () => {
  const store = await cookies();
  const locale = toLocale(store.get(LOCALE_COOKIE)?.value);
  const messages = (await import(`../../messages/${locale}.json`)).default;
  return { locale, messages, timeZone: appTimeZone() };
});
