import { createTranslator } from 'next-intl';
import { describe, expect, it } from 'vitest';
import am from '../../messages/am.json';
import en from '../../messages/en.json';
import { describeScheduleFor, scheduleShape } from './describe-schedule';

// The dashboard's Configuration panel said "0 2 * * * (UTC)": staff read a sentence now, in both
// languages, with the zone named; a schedule of another shape still shows its exact expression.
const tEn = createTranslator({ locale: 'en', messages: en, namespace: 'backups.info' });
const tAm = createTranslator({ locale: 'am', messages: am, namespace: 'backups.info' });
const say = (expression: string, timeZone: string, locale: 'en' | 'am') =>
  describeScheduleFor({ expression, timeZone }, locale, (key, values) => (locale === 'en' ? tEn : tAm)(key, values)).replace(/\s/g, ' ');

describe('the schedule as a sentence', () => {
  it('daily, weekly and hourly schedules in English, with the zone', () => {
    expect(say('0 2 * * *', 'UTC', 'en')).toBe('Every day at 2:00 AM (UTC)');
    expect(say('30 17 * * *', 'Africa/Addis_Ababa', 'en')).toBe('Every day at 5:30 PM (Africa/Addis_Ababa)');
    expect(say('05 03 * * 0', 'UTC', 'en')).toBe('Every Sunday at 3:05 AM (UTC)');
    expect(say('0 3 * * 7', 'UTC', 'en')).toBe('Every Sunday at 3:00 AM (UTC)');
    expect(say('0 3 * * 6', 'UTC', 'en')).toBe('Every Saturday at 3:00 AM (UTC)');
    expect(say('15 * * * *', 'UTC', 'en')).toBe('Every hour at minute 15');
  });

  it('in Amharic, with Amharic weekday names', () => {
    expect(say('0 2 * * *', 'UTC', 'am')).toMatch(/^በየቀኑ 2:00 .+ ላይ \(UTC\)$/);
    expect(say('0 3 * * 1', 'UTC', 'am')).toMatch(/^በየሳምንቱ ሰኞ 3:00 .+ ላይ \(UTC\)$/);
    expect(say('7 * * * *', 'UTC', 'am')).toBe('በየሰዓቱ በ07ኛው ደቂቃ');
  });

  it('any other shape is shown as its exact cron expression', () => {
    for (const e of ['*/15 * * * *', '0 2 1 * *', '0 2 * 1 *', '0 2,14 * * *', '0 2 * * 1-5', '0 0 2 * * *', '60 2 * * *', '0 24 * * *', '0 2 * * 8', '@daily']) {
      expect(scheduleShape(e), e).toEqual({ kind: 'cron' });
      expect(say(e, 'UTC', 'en')).toBe(`Cron expression ${e} (UTC)`);
      expect(say(e, 'UTC', 'am')).toBe(`የcron አገላለጽ ${e} (UTC)`);
    }
  });
});
