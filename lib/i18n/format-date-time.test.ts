import { describe, expect, it } from 'vitest';
import { formatDateTime as format, formatNumber } from './format-date-time';
import type { FormatDateTimeOptions } from './format-date-time';

// ICU versions differ in the space before AM/PM (U+202F or U+0020): compare with plain spaces.
const formatDateTime = (d: Date, l: 'en' | 'am', o?: FormatDateTimeOptions) => format(d, l, o).replace(/\s/g, ' ');

// 2026-12-02 02:20 UTC is 05:20 in Addis Ababa, 23 Hidar 2019 in the Ethiopian calendar.
const AT = new Date('2026-12-02T02:20:00Z');

describe('formatDateTime', () => {
  it('English: Gregorian date and time in the app time zone', () => {
    expect(formatDateTime(AT, 'en', { timeZone: 'Africa/Addis_Ababa' })).toBe('Dec 2, 2026, 5:20 AM');
    expect(formatDateTime(AT, 'en', { timeZone: 'UTC' })).toBe('Dec 2, 2026, 2:20 AM');
    expect(formatDateTime(AT, 'en', { timeZone: 'UTC', dateOnly: true })).toBe('Dec 2, 2026');
  });

  it('Amharic: Ethiopian-calendar date with the Gregorian date beside it, era written ዓ.ም.', () => {
    const s = formatDateTime(AT, 'am', { timeZone: 'Africa/Addis_Ababa' });
    expect(s).toMatch(/^23 ኅዳር 2019 ዓ\.ም\. 5:20 .+ \(2 ዲሴም 2026\)$/);
    expect(s).not.toContain(' AM');
    expect(formatDateTime(AT, 'am', { timeZone: 'Africa/Addis_Ababa', dateOnly: true })).toBe('23 ኅዳር 2019 ዓ.ም. (2 ዲሴም 2026)');
  });

  it('the time zone moves the day in both calendars (late UTC evening is the next day in Addis Ababa)', () => {
    const late = new Date('2026-09-10T22:30:00Z'); // 11 Sep 01:30 in Addis: Ethiopian new year, 1 Meskerem 2019
    expect(formatDateTime(late, 'am', { timeZone: 'Africa/Addis_Ababa', dateOnly: true })).toBe('1 መስከረም 2019 ዓ.ም. (11 ሴፕቴ 2026)');
    expect(formatDateTime(late, 'am', { timeZone: 'UTC', dateOnly: true })).toBe('5 ጳጉሜን 2018 ዓ.ም. (10 ሴፕቴ 2026)');
  });

  it('defaults to APP_TIME_ZONE', () => {
    const saved = process.env.APP_TIME_ZONE;
    process.env.APP_TIME_ZONE = 'UTC';
    try {
      expect(formatDateTime(AT, 'en')).toBe('Dec 2, 2026, 2:20 AM');
    } finally {
      if (saved === undefined) delete process.env.APP_TIME_ZONE;
      else process.env.APP_TIME_ZONE = saved;
    }
  });
});

describe('formatNumber', () => {
  it('groups digits per locale', () => {
    expect(formatNumber(1234567, 'en')).toBe('1,234,567');
    expect(formatNumber(1234567, 'am')).toBe('1,234,567');
  });
});
