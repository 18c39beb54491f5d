import { appTimeZone, intlLocale } from './locales';
import type { Locale } from './locales';

/** Options of {@link formatDateTime}. */
export interface FormatDateTimeOptions {
  /** IANA time zone; default APP_TIME_ZONE (Addis Ababa). */
  timeZone?: string;
  /** Date only, without the time of day. */
  dateOnly?: boolean;
}

// Ethiopian staff read dates in the Ethiopian calendar, but receipts, banks and Telegram show
// Gregorian ones, so Amharic shows both: "23 ኅዳር 2019 ዓ.ም. 5:20 ጥዋት (2 ዲሴም 2026)". ICU prints the
// Ethiopic era as "AM" (Amete Mihret), which reads like ante meridiem next to a time: we build the
// date from its parts and write the era the way Amharic does, "ዓ.ም.".
const ERA_AMHARIC = 'ዓ.ም.';

/**
 * Formats an instant for the UI in the given locale and time zone. English: "Dec 2, 2026, 5:20 AM".
 * Amharic: the Ethiopian-calendar date and time, with the Gregorian date beside it in parentheses.
 * The same instant, locale and zone always give the same string (server and client agree).
 */
export function formatDateTime(date: Date, locale: Locale, options: FormatDateTimeOptions = {}): string {
  const timeZone = options.timeZone ?? appTimeZone();
  const tag = intlLocale(locale);
  if (locale !== 'am') {
    return new Intl.DateTimeFormat(tag, { dateStyle: 'medium', ...(options.dateOnly ? {} : { timeStyle: 'short' }), timeZone }).format(date);
  }
  const parts = new Intl.DateTimeFormat(`${tag}-u-ca-ethiopic`, { day: 'numeric', month: 'long', year: 'numeric', timeZone }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const ethiopian = `${part('day')} ${part('month')} ${part('year')} ${ERA_AMHARIC}`;
  const gregorian = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeZone }).format(date);
  const time = options.dateOnly ? '' : ` ${new Intl.DateTimeFormat(tag, { timeStyle: 'short', timeZone }).format(date)}`;
  return `${ethiopian}${time} (${gregorian})`;
}

/** Formats a number with the locale's grouping (am-ET for Amharic). */
export function formatNumber(value: number, locale: Locale): string {
  return new Intl.NumberFormat(intlLocale(locale)).format(value);
}
