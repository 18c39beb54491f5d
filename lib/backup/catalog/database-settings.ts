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
