import { quoteIdent } from '../quote-ident';
import { catalogKey, FIRST_USER_OID, notExtensionMember, PG_TRANSFORM, type KindBuilder } from './kind-types';

/** Transforms (CREATE TRANSFORM FOR type LANGUAGE lang), database-wide. */
export interface TransformRow { oid: number; type: string; lang: string; fromSql: string | null; toSql: string | null }

/** Rows of this kind ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const TRANSFORMS_SQL = `SELECT t.oid::int AS oid, pg_catalog.format_type(t.trftype, NULL) AS type, l.lanname AS lang,
            CASE WHEN t.trffromsql <> 0 THEN t.trffromsql::pg_catalog.regprocedure::text END AS "fromSql",
            CASE WHEN t.trftosql <> 0 THEN t.trftosql::pg_catalog.regprocedure::text END AS "toSql"
       FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang
      WHERE t.oid >= ${FIRST_USER_OID} AND ${notExtensionMember('pg_catalog.pg_transform', 't.oid')}
      ORDER BY 2, 3`;

export function buildTransforms(rows: TransformRow[], b: KindBuilder): void {
  for (const t of rows) {
    const label = `FOR ${t.type} LANGUAGE ${quoteIdent(t.lang)}`;
    const parts = [...(t.fromSql ? [`FROM SQL WITH FUNCTION ${t.fromSql}`] : []), ...(t.toSql ? [`TO SQL WITH FUNCTION ${t.toSql}`] : [])];
    const node = b.add({ section: 'pre-data', kind: 'TRANSFORM', schema: null, name: label, sql: `CREATE TRANSFORM ${label} (${parts.join(', ')});\n` }, 9, catalogKey(PG_TRANSFORM, t.oid));
    b.comment(node, `TRANSFORM ${label}`, PG_TRANSFORM, t.oid);
  }
}
