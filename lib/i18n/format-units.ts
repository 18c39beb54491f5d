import { intlLocale } from './locales';
import type { Locale } from './locales';

/** Bytes for people: "1.2 MB" / "1.2 ሜጋባይት" (Intl units, decimal multiples like storage vendors). */
export function formatBytes(bytes: number, locale: Locale): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;
  let v = Math.max(0, bytes);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return new Intl.NumberFormat(intlLocale(locale), { style: 'unit', unit: units[i], unitDisplay: 'short', maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
}

/** A duration for people: "850 ms", "12.3 s", "4 min 5 s" (Intl units in the locale). */
export function formatDuration(ms: number, locale: Locale): string {
  const tag = intlLocale(locale);
  const unit = (v: number, u: string, digits = 0) => new Intl.NumberFormat(tag, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: digits }).format(v);
  if (ms < 1000) return unit(Math.round(ms), 'millisecond');
  if (ms < 60_000) return unit(ms / 1000, 'second', 1);
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (min < 60) return `${unit(min, 'minute')} ${unit(s, 'second')}`;
  return `${unit(Math.floor(min / 60), 'hour')} ${unit(min % 60, 'minute')}`;
}
