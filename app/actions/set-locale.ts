'use server';

import { cookies } from 'next/headers';
import { LOCALE_COOKIE, toLocale } from '@/lib/i18n/locales';

/**
 * Stores the chosen UI language in the NEXT_LOCALE cookie (a year). Setting a cookie in a server
 * action makes Next re-render the current page, so the new language shows without a reload; the
 * form also works without JavaScript.
 */
export async function setLocale(formData: FormData): Promise<void> {
  const locale = toLocale(String(formData.get('locale') ?? ''));
  const store = await cookies();
  store.set(LOCALE_COOKIE, locale, { path: '/', maxAge: 60 * 60 * 24 * 365, sameSite: 'lax' });
}
