import type pg from 'pg';
import { AppError } from '../../errors';
import type { TableToCopy } from './dump-schema';
import type { ExternalUse } from './read-catalog';
import { qualifiedName } from './quote-ident';

/**
 * Tables outside the backed-up schemas that backed-up tables reference with a foreign key (on
 * Supabase: `auth.users`). By default (BACKUP_REFERENCED_DATA=include) their rows are part of the
 * backup as data only — no definition: the restore target must already have the table (a new
 * Supabase project has it) — and are loaded before the dependent data, so a restore into a new
 * project brings back the accounts the data belongs to.
 *
 * The trade-off (README): the backup then holds data of another schema (for auth.users: e-mail
 * addresses and password hashes), and a restore loads those rows only into an EMPTY table of the
 * target (a table that already has rows is left alone, with a note in the plan). `exclude` leaves
 * them out: smaller, no platform data in the archive, but the foreign keys then need the rows to be
 * there already, or the restore fails on them.
 */
export function referencedDataMode(env: NodeJS.ProcessEnv = process.env): 'include' | 'exclude' {
  const v = (env.BACKUP_REFERENCED_DATA ?? '').trim().toLowerCase();
  if (v === '' || v === 'include') return 'include';
  if (v === 'exclude') return 'exclude';
  throw new AppError('config', `BACKUP_REFERENCED_DATA must be include or exclude, got ${JSON.stringify(env.BACKUP_REFERENCED_DATA)}`);
}

/** The referenced tables (FK targets among the external uses), as tables to copy, locked ACCESS SHARE. */
export async function referencedTables(client: pg.ClientBase, external: ExternalUse[]): Promise<TableToCopy[]> {
  const oids = [...new Set(external.filter((u) => u.refType === 'table' && u.userType === 'table constraint').map((u) => u.refOid))];
  if (!oids.length) return [];
  const r = await client.query<{ oid: number; nspname: string; relname: string; relpages: number; columns: string[] }>(
    `SELECT c.oid::int AS oid, n.nspname, c.relname, c.relpages,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'r' ORDER BY n.nspname, c.relname`,
    [oids],
  );
  for (const t of r.rows) {
    try {
      await client.query(`LOCK TABLE ${qualifiedName(t.nspname, t.relname)} IN ACCESS SHARE MODE`);
    } catch (err) {
      throw new AppError('db_permission', `cannot read ${t.nspname}.${t.relname}, referenced by backed-up tables (set BACKUP_REFERENCED_DATA=exclude to leave its rows out)`, { cause: err });
    }
  }
  return r.rows.map((t) => ({ schema: t.nspname, name: t.relname, oid: t.oid, columns: t.columns ?? [], relpages: t.relpages, dataExcluded: false, referenced: true }));
}
