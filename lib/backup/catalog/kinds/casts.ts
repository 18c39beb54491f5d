import { catalogKey, FIRST_USER_OID, notExtensionMember, PG_CAST, type KindBuilder } from './kind-types';

/** User-defined casts (CREATE CAST), database-wide like pg_dump's. */
export interface CastRow { oid: number; source: string; target: string; method: string; context: string; func: string | null }

/** Rows of this kind ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const CASTS_SQL = `SELECT c.oid::int AS oid, pg_catalog.format_type(c.castsource, NULL) AS source, pg_catalog.format_type(c.casttarget, NULL) AS target,
            c.castmethod AS method, c.castcontext AS context,
            CASE WHEN c.castfunc <> 0 THEN c.castfunc::pg_catalog.regprocedure::text END AS func
       FROM pg_catalog.pg_cast c
      WHERE c.oid >= ${FIRST_USER_OID} AND ${notExtensionMember('pg_catalog.pg_cast', 'c.oid')}
        -- casts created with another object (range -> multirange) come back with it
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'i')
      ORDER BY 2, 3`;

export function buildCasts(rows: CastRow[], b: KindBuilder): void {
  for (const c of rows) {
    const how = c.method === 'f' ? `WITH FUNCTION ${c.func}` : c.method === 'i' ? 'WITH INOUT' : 'WITHOUT FUNCTION';
    const ctx = c.context === 'a' ? ' AS ASSIGNMENT' : c.context === 'i' ? ' AS IMPLICIT' : '';
    const label = `(${c.source} AS ${c.target})`;
    const node = b.add({ section: 'pre-data', kind: 'CAST', schema: null, name: label, sql: `CREATE CAST ${label} ${how}${ctx};\n` }, 7, catalogKey(PG_CAST, c.oid));
    b.comment(node, `CAST ${label}`, PG_CAST, c.oid);
  }
}
