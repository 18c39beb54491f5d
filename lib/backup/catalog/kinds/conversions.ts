import { qualifiedName, quoteLiteral } from '../quote-ident';
import { catalogKey, notExtensionMember, PG_CONVERSION, type KindBuilder } from './kind-types';
import { ownerStatement } from '../acl';

/** Encoding conversions created in the dumped schemas (CREATE [DEFAULT] CONVERSION). */
export interface ConversionRow { oid: number; nspname: string; conname: string; owner: string; src: string; dst: string; proc: string; isDefault: boolean }

/** Rows of this kind ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const CONVERSIONS_SQL = `SELECT x.oid::int AS oid, n.nspname, x.conname, pg_catalog.pg_get_userbyid(x.conowner) AS owner,
            pg_catalog.pg_encoding_to_char(x.conforencoding) AS src, pg_catalog.pg_encoding_to_char(x.contoencoding) AS dst,
            x.conproc::pg_catalog.regproc::text AS proc, x.condefault AS "isDefault"
       FROM pg_catalog.pg_conversion x JOIN pg_catalog.pg_namespace n ON n.oid = x.connamespace
      WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_catalog.pg_conversion', 'x.oid')}
      ORDER BY n.nspname, x.conname`;

export function buildConversions(rows: ConversionRow[], b: KindBuilder): void {
  for (const c of rows) {
    const q = qualifiedName(c.nspname, c.conname);
    const sql = `CREATE ${c.isDefault ? 'DEFAULT ' : ''}CONVERSION ${q} FOR ${quoteLiteral(c.src)} TO ${quoteLiteral(c.dst)} FROM ${c.proc};\n`;
    const node = b.add({ section: 'pre-data', kind: 'CONVERSION', schema: c.nspname, name: c.conname, sql }, 13, catalogKey(PG_CONVERSION, c.oid));
    b.comment(node, `CONVERSION ${q}`, PG_CONVERSION, c.oid);
    b.security(node, { owner: { sql: ownerStatement('CONVERSION', q, c.owner), role: c.owner } });
  }
}
