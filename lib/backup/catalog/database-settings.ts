import type pg from 'pg';
import { quoteIdent } from './quote-ident';

/**
 * The settings given to the backed-up database itself: `ALTER DATABASE … SET` and
 * `ALTER ROLE … IN DATABASE … SET`. They belong to the database, not to its schemas, so a backup does
 * not hold them (pg_dump writes them only with --create) and a restore into another database does
 * not have them: an application that relies on one (a search_path, an `app.*` setting its policies
 * read) behaves differently there. Named in one warning — names only, never values (a setting may
 * hold a secret, as Supabase's `app.settings.jwt_secret` did) — or null when there are none or the
 * catalog is not readable.
 */
export async function databaseSettingsWarning(client: pg.ClientBase): Promise<string | null> {
  const readable = await client.query<{ ok: boolean }>(`SELECT pg_catalog.has_table_privilege('pg_catalog.pg_db_role_setting', 'SELECT') AS ok`);
  if (!readable.rows[0]?.ok) return null;
  const r = await client.query<{ role: string | null; names: string }>(
    `SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(s.setrole)::text END AS role,
            (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.split_part(x, '=', 1), ', ') FROM pg_catalog.unnest(s.setconfig) x) AS names
       FROM pg_catalog.pg_db_role_setting s
      WHERE s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
        AND s.setconfig IS NOT NULL
      ORDER BY s.setrole <> 0, 1`,
  );
  if (!r.rows.length) return null;
  const parts = r.rows.map((s) => (s.role === null ? `the database's own (ALTER DATABASE … SET): ${s.names}` : `role ${quoteIdent(s.role)} in this database (ALTER ROLE … IN DATABASE … SET): ${s.names}`));
  return `not in this backup: database settings — ${parts.join('; ')}; a restore does not set them: set them on the target database if the application needs them`;
}

/**
 * Relations of the backed-up schemas kept in a tablespace other than their database's default.
 * Tablespaces are directories of one server: a backup does not name them (as `pg_dump
 * --no-tablespaces`), so a restore creates everything in the target database's default tablespace,
 * where the target may have no such tablespace at all. Said in one warning, per tablespace with a
 * count and an example, or null when every relation is in the default.
 */
export async function tablespacesWarning(client: pg.ClientBase, schemas: string[]): Promise<string | null> {
  const r = await client.query<{ spc: string; n: number; example: string }>(
    `SELECT t.spcname AS spc, count(*)::int AS n,
            min(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)) AS example
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'm', 'i', 'I') AND c.reltablespace <> 0
      GROUP BY t.spcname ORDER BY 1`,
    [schemas],
  );
  if (!r.rows.length) return null;
  const parts = r.rows.map((x) => `${quoteIdent(x.spc)}: ${x.n} relation${x.n === 1 ? '' : 's'} (${x.example}${x.n > 1 ? ', …' : ''})`);
  return `not in this backup: tablespaces — ${parts.join('; ')}; a restore creates them in the target database's default tablespace (as pg_dump --no-tablespaces): move them after if needed (ALTER TABLE … SET TABLESPACE)`;
}
