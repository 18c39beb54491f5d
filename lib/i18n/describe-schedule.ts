import type { Locale } from './locales';

/** The shapes of schedule staff read as a sentence; anything else is shown as its cron expression. */
export type ScheduleShape =
  | { kind: 'daily'; hour: number; minute: number }
  | { kind: 'weekly'; weekday: number; hour: number; minute: number }
  | { kind: 'hourly'; minute: number }
  | { kind: 'cron' };

const NUM = /^[0-9]{1,2}$/;

/** Reads a 5-field cron expression as daily / weekly / hourly when it is exactly that, else 'cron'. */
export function scheduleShape(expression: string): ScheduleShape {
  const f = expression.trim().split(/\s+/);
  if (f.length !== 5) return { kind: 'cron' };
  const [mi, h, dom, mon, dow] = f;
  if (!NUM.test(mi) || Number(mi) > 59 || dom !== '*' || mon !== '*') return { kind: 'cron' };
  const minute = Number(mi);
  if (h === '*' && dow === '*') return { kind: 'hourly', minute };
  if (!NUM.test(h) || Number(h) > 23) return { kind: 'cron' };
  const hour = Number(h);
  if (dow === '*') return { kind: 'daily', hour, minute };
  if (/^[0-7]$/.test(dow)) return { kind: 'weekly', weekday: Number(dow) % 7, hour, minute };
  return { kind: 'cron' };
}

type Translate = (key: 'scheduleDaily' | 'scheduleWeekly' | 'scheduleHourly' | 'scheduleCron', values: Record<string, string>) => string;

/**
 * The schedule as staff read it, e.g. "Every day at 2:00 AM (UTC)" / "በየቀኑ 2:00 ... (UTC)"; `t` is
 * the dashboard's `backups.info` translator. The time is the wall-clock time in the schedule's own
 * zone (BACKUP_TZ), which the sentence names.
 */
export function describeScheduleFor(schedule: { expression: string; timeZone: string }, locale: Locale, t: Translate): string {
  const s = scheduleShape(schedule.expression);
  const zone = schedule.timeZone;
  const time = (hour: number, minute: number) => new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' }).format(Date.UTC(2000, 0, 1, hour, minute));
  switch (s.kind) {
    case 'daily':
      return t('scheduleDaily', { time: time(s.hour, s.minute), zone });
    case 'weekly':
      // 2000-01-02 was a Sunday (cron weekday 0).
      return t('scheduleWeekly', { weekday: new Intl.DateTimeFormat(locale, { weekday: 'long', timeZone: 'UTC' }).format(Date.UTC(2000, 0, 2 + s.weekday)), time: time(s.hour, s.minute), zone });
    case 'hourly':
      return t('scheduleHourly', { minute: String(s.minute).padStart(2, '0'), zone });
    default:
      return t('scheduleCron', { expression: schedule.expression, zone });
  }
}
