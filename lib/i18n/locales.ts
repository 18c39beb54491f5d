/** The UI languages. English is the default; Amharic is the language of most TicketHub staff. */
export const LOCALES = ['en', 'am'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** The cookie holding the chosen locale (next-intl's conventional name). */
export const LOCALE_COOKIE = 'NEXT_LOCALE';

/** Narrows any string (cookie value, form field) to a supported locale, falling back to the default. */
export function toLocale(value: string | undefined | null): Locale {
  return (LOCALES as readonly string[]).includes(value ?? '') ? (value as Locale) : DEFAULT_LOCALE;
}

/** The BCP 47 tag handed to Intl for dates and numbers: Ethiopian Amharic for 'am'. */
export function intlLocale(locale: Locale): string {
  return locale === 'am' ? 'am-ET' : 'en';
}

/**
 * Time zone used to show timestamps. TicketHub runs in Ethiopia, so the default is Addis Ababa
 * whatever the server's own zone; APP_TIME_ZONE overrides it.
 */
export function appTimeZone(): string {
  return process.env.APP_TIME_ZONE || 'Africa/Addis_Ababa';
}
