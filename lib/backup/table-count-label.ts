import { TICKETHUB_TABLES } from '../seed/seed-demo-data';

/**
 * Tables the app's migrations create for itself (sign-in, backups, scheduling) plus the migration
 * ledger: in a backup of the app's database they sit next to the ten TicketHub tables.
 */
export const SYSTEM_TABLES: readonly string[] = ['admin_sessions', 'login_attempts', 'backup_runs', 'backup_schedule_slots', 'backup_alert_state', 'schema_migrations'];

/**
 * "10 TicketHub tables + 6 system tables" instead of a bare "16 tables", so the counts of a
 * backup (everything), an export (the ten) and a drill (what it compared) do not look like lost
 * tables. Tables that are neither are "other"; a database without TicketHub tables is just "N tables".
 */
export function tableCountLabel(tables: readonly { schema: string; name: string }[]): string {
  const inPublic = (list: readonly string[]) => tables.filter((t) => t.schema === 'public' && list.includes(t.name)).length;
  const th = inPublic(TICKETHUB_TABLES);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (th === 0) return plural(tables.length, 'table');
  const sys = inPublic(SYSTEM_TABLES);
  const other = tables.length - th - sys;
  return [plural(th, 'TicketHub table'), ...(sys ? [plural(sys, 'system table')] : []), ...(other ? [plural(other, 'other table')] : [])].join(' + ');
}
