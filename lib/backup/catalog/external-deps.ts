import type pg from 'pg';
import type { ExternalUse } from './read-catalog';

/**
 * Objects outside the backed-up schemas that backed-up objects use (Supabase: `auth.uid()` in
 * policies, a foreign key to `auth.users`, a column of a type in another schema). Recorded in the
 * manifest with the definition they had at backup time, so that a restore can say up front what
 * the target lacks, and a drill can recreate them in its scratch database.
 */
export interface ExternalDependency {
  /** pg_identify_object's type: 'function', 'table', 'view', 'type', 'sequence', ... */
  kind: string;
  /** pg_identify_object's identity: quoted, qualified, functions with argument types ('auth.uid()', 'auth.users'). */
  name: string;
  /** Its schema (unquoted). */
  schema: string;
  /** What uses it, e.g. 'policy "own profile" on public.profiles', 'table constraint profiles_id_fkey on public.profiles'. */
  usedBy: string[];
  /** SQL that recreates it (functions: CREATE FUNCTION; tables: columns, NOT NULL, primary and unique keys, a partitioned table's PARTITION BY; enum and domain types). */
  definition?: string;
}

/** Groups the uses by object and reads each object's definition (inside the backup's snapshot, search_path ''). */
export async function describeExternal(client: pg.ClientBase, uses: ExternalUse[]): Promise<ExternalDependency[]> {
  const byObject = new Map<string, { use: ExternalUse; usedBy: Set<string> }>();
  for (const u of uses) {
    const k = `${u.refClassid}:${u.refOid}`;
    const e = byObject.get(k) ?? { use: u, usedBy: new Set<string>() };
    e.usedBy.add(`${u.userType} ${u.userIdentity}`);
    byObject.set(k, e);
  }
  if (!byObject.size) return [];
  const oids = [...byObject.values()].map((e) => e.use.refOid);
  // One query: each object's schema and recreating definition.
  const r = await client.query<{ oid: number; schema: string; def: string | null }>(
    `SELECT p.oid::int AS oid, n.nspname AS schema, pg_catalog.pg_get_functiondef(p.oid) AS def
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE p.oid = ANY($1::oid[]) AND p.prokind IN ('f', 'p')
     UNION ALL
     SELECT c.oid::int, n.nspname,
            CASE WHEN c.relkind IN ('r', 'p') THEN
              'CREATE TABLE ' || c.oid::pg_catalog.regclass::text || ' (' ||
              coalesce((SELECT string_agg(E'\\n    ' || pg_catalog.quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                                          || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, ',' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') ||
              coalesce((SELECT string_agg(E',\\n    CONSTRAINT ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid), '' ORDER BY k.conname)
                          FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u')), '') || E'\\n)' ||
              CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END || E';\\n'
                 WHEN c.relkind = 'v' THEN 'CREATE VIEW ' || c.oid::pg_catalog.regclass::text || E' AS\\n' || pg_catalog.pg_get_viewdef(c.oid) || E'\\n'
                 WHEN c.relkind = 'S' THEN 'CREATE SEQUENCE ' || c.oid::pg_catalog.regclass::text || E';\\n' END
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[])
     UNION ALL
     SELECT t.oid::int, n.nspname,
            CASE WHEN t.typtype = 'e' THEN 'CREATE TYPE ' || t.oid::pg_catalog.regtype::text || ' AS ENUM (' ||
                   (SELECT string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) || E');\\n'
                 WHEN t.typtype = 'd' THEN 'CREATE DOMAIN ' || t.oid::pg_catalog.regtype::text || ' AS ' || pg_catalog.format_type(t.typbasetype, t.typtypmod) ||
                   coalesce((SELECT string_agg(' CONSTRAINT ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid), '' ORDER BY k.conname)
                               FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid), '') || E';\\n' END
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ANY($1::oid[])`,
    [oids],
  );
  const defs = new Map(r.rows.map((x) => [x.oid, x]));
  return [...byObject.values()]
    .map(({ use, usedBy }) => {
      const d = defs.get(use.refOid);
      const def = d?.def ? (d.def.trimEnd().endsWith(';') ? `${d.def.trimEnd()}\n` : `${d.def.trimEnd()};\n`) : undefined;
      return { kind: use.refType, name: use.refIdentity, schema: d?.schema ?? use.refIdentity.split('.')[0], usedBy: [...usedBy].sort(), ...(def ? { definition: def } : {}) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One warning line per external dependency, as `backup` prints it. */
export function externalWarning(d: ExternalDependency): string {
  const more = d.usedBy.length > 1 ? ` (and ${d.usedBy.length - 1} more)` : '';
  return `depends on ${d.kind} ${d.name} outside the backed-up schemas, used by ${d.usedBy[0]}${more}: the restore target must have it`;
}
