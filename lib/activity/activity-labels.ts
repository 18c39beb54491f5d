import { formatNumber } from '../i18n/format-date-time';
import { formatBytes } from '../i18n/format-units';
import type { Locale } from '../i18n/locales';

/**
 * Action codes with a translated label (messages: activity.actions.<CODE>). The code stays what is
 * stored and filtered on; the page shows the label. A code not listed here (e.g. written by another
 * version of the app) is shown as the code itself.
 */
export const ACTIVITY_ACTIONS = [
  'ADMIN_SIGN_IN',
  'ADMIN_SIGN_IN_FAILED',
  'ADMIN_SIGN_OUT',
  'ADMIN_CREATED',
  'ADMIN_UPDATED',
  'ADMIN_PASSWORD_RESET',
  'TRIP_CREATED',
  'RECEIPT_APPROVED',
  'RECEIPT_REJECTED',
  'INVITATION_SENT',
  'MANUAL_BACKUP',
  'AUTOMATED_BACKUP',
  'BACKUP_STARTED',
  'BACKUP_FAILED',
  'BACKUP_DELETED',
  'BACKUP_DOWNLOADED',
  'BACKUP_VERIFIED',
  'BACKUP_DRILL',
  'BACKUP_RETENTION',
  'BACKUP_ALERT_FAILED',
  'DATA_EXPORTED',
] as const;
export type ActivityAction = (typeof ACTIVITY_ACTIONS)[number];

export function isKnownAction(code: string): code is ActivityAction {
  return (ACTIVITY_ACTIONS as readonly string[]).includes(code);
}

/** Tags the app stores as the "IP address" of entries it wrote itself, and their message keys (activity.origins.<key>). */
const ORIGINS = { 'system-startup': 'startup', 'system-automation': 'automation', cli: 'cli' } as const;
export type ActivityOrigin = (typeof ORIGINS)[keyof typeof ORIGINS];

/** The translated-origin key of a stored ip_address tag, or null for a real address (shown as stored). */
export function originOf(ip: string | null): ActivityOrigin | null {
  return ip !== null && Object.hasOwn(ORIGINS, ip) ? ORIGINS[ip as keyof typeof ORIGINS] : null;
}

/** What the description template of an entry needs (a subset of the activity row). */
export interface DescribableEntry {
  action: string;
  entityId: string | null;
  metadata: Record<string, unknown>;
  adminName: string | null;
}

/** A message key under activity.descriptions and its values, already formatted for the locale. */
export interface ActivityDescription {
  key: string;
  values: Record<string, string>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : null);

/**
 * The translated description of an entry, built from its structured metadata, or null when the
 * action has no template or the entry lacks a value the template needs (the page then shows the
 * description as stored). Numbers and sizes are formatted for the locale. Role names come back
 * as codes in `role` for the caller to translate (roles.<code>).
 */
export function describeActivity(e: DescribableEntry, locale: Locale): ActivityDescription | null {
  const m = e.metadata ?? {};
  const n = (v: unknown) => {
    const x = num(v);
    return x === null ? null : formatNumber(x, locale);
  };
  const all = (key: string, values: Record<string, string | null>): ActivityDescription | null =>
    Object.values(values).every((v) => v !== null) ? { key, values: values as Record<string, string> } : null;
  switch (e.action) {
    case 'ADMIN_SIGN_IN':
    case 'ADMIN_SIGN_OUT':
      return all(e.action, { name: e.adminName ?? str(m.email) });
    case 'ADMIN_SIGN_IN_FAILED':
      return all(e.action, { email: str(m.email) });
    case 'ADMIN_CREATED':
    case 'ADMIN_UPDATED':
      // The CLI creates admins; `npm start` creates (source 'start') or updates the ADMIN_EMAIL admin.
      return all(e.action === 'ADMIN_CREATED' && m.source === 'start' ? 'ADMIN_CREATED_start' : e.action, { email: str(m.email), role: str(m.role) });
    case 'ADMIN_PASSWORD_RESET':
      return all(e.action, { email: str(m.email) });
    case 'TRIP_CREATED':
      return all(e.action, { origin: str(m.origin), destination: str(m.destination) });
    case 'RECEIPT_APPROVED':
    case 'RECEIPT_REJECTED':
      return all(e.action, { id: e.entityId, amount: n(m.amount_etb), method: str(m.payment_method) });
    case 'INVITATION_SENT':
      return all(e.action, { email: str(m.email), role: str(m.role) });
    case 'MANUAL_BACKUP':
    case 'AUTOMATED_BACKUP': {
      const size = num(m.sizeBytes);
      return all(e.action, { rows: n(m.rows), tables: n(m.tables), size: size === null ? null : formatBytes(size, locale) });
    }
    case 'BACKUP_STARTED':
    case 'BACKUP_DELETED':
      return all(e.action, { id: str(m.backupId) ?? e.entityId });
    case 'BACKUP_FAILED':
      return all(e.action, { error: str(m.error) });
    case 'BACKUP_DOWNLOADED': {
      const file = str(m.file);
      return file === 'archive' || file === 'manifest' ? all(`BACKUP_DOWNLOADED_${file}`, { id: str(m.backupId) ?? e.entityId }) : null;
    }
    case 'BACKUP_VERIFIED':
      if (m.ok === true) return all('BACKUP_VERIFIED_ok', { id: str(m.backupId) ?? e.entityId });
      return all('BACKUP_VERIFIED_problems', { id: str(m.backupId) ?? e.entityId, count: n(m.problems) });
    case 'BACKUP_DRILL':
      // The error text itself stays as recorded (the drill's own words).
      return m.ok === true
        ? all('BACKUP_DRILL_ok', { id: str(m.backupId) ?? e.entityId, rows: n(m.rows) })
        : all('BACKUP_DRILL_failed', { id: str(m.backupId) ?? e.entityId, error: str(m.error) });
    case 'BACKUP_RETENTION': {
      const ids = (v: unknown) => (Array.isArray(v) ? v.map((x) => str((x as { id?: unknown } | null)?.id)).filter((x): x is string => x !== null) : null);
      const removed = ids(m.removed);
      const failed = ids(m.failed);
      if (!removed || !failed) return null;
      const values = { days: n(m.keepDays), min: n(m.keepLast), count: n(removed.length) };
      return failed.length
        ? all('BACKUP_RETENTION_failed', { ...values, failed: failed.join(', ') })
        : all('BACKUP_RETENTION', values);
    }
    case 'BACKUP_ALERT_FAILED':
      return all(e.action, { event: str(m.event), channel: str(m.channel), attempts: n(m.attempts), error: str(m.error) ?? '—' });
    case 'DATA_EXPORTED': {
      const tables = Array.isArray(m.tables) ? m.tables.filter((t): t is string => typeof t === 'string') : null;
      const format = str(m.format);
      const source = str(m.source);
      if (!tables?.length || !source || (format !== 'csv' && format !== 'zip')) return null;
      const from = source === 'live' ? 'live' : 'backup';
      const backup: Record<string, string> = from === 'backup' ? { backup: source } : {};
      return format === 'zip'
        ? { key: `DATA_EXPORTED_zip_${from}`, values: { count: formatNumber(tables.length, locale), ...backup } }
        : { key: `DATA_EXPORTED_csv_${from}`, values: { table: tables[0], ...backup } };
    }
    default:
      return null;
  }
}
