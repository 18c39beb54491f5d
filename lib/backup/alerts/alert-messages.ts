import am from '../../../messages/am.json';
import en from '../../../messages/en.json';

/** The events an operator is alerted about (issue 11). */
export type AlertEvent = 'backup_failed' | 'verify_failed' | 'drill_failed' | 'backup_stale' | 'anomaly' | 'backup_recovered';

/** Incident kinds: every event except `backup_recovered`, which ends incidents. */
export type IncidentKind = Exclude<AlertEvent, 'backup_recovered'>;
export const INCIDENT_KINDS: readonly IncidentKind[] = ['backup_failed', 'verify_failed', 'drill_failed', 'backup_stale', 'anomaly'];

export type AlertLocale = 'en' | 'am';

const CATALOG = { en: en.alerts, am: am.alerts } as const;
type MessageKey = keyof typeof en.alerts;

/** BACKUP_ALERT_LOCALE (en | am, default en); anything else falls back to English. */
export function alertLocaleFromEnv(env: Record<string, string | undefined> = process.env): AlertLocale {
  return env.BACKUP_ALERT_LOCALE?.trim().toLowerCase() === 'am' ? 'am' : 'en';
}

/** A message of the `alerts` catalog with `{name}` placeholders filled. */
export function alertText(locale: AlertLocale, key: MessageKey, values: Record<string, string | number | null | undefined> = {}): string {
  return CATALOG[locale][key].replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? ''));
}

export function severityOf(event: AlertEvent): 'critical' | 'warning' | 'info' {
  return event === 'backup_recovered' ? 'info' : event === 'anomaly' || event === 'backup_stale' ? 'warning' : 'critical';
}
