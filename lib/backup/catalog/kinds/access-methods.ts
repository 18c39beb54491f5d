import { quoteIdent } from '../quote-ident';
import { catalogKey, FIRST_USER_OID, notExtensionMember, PG_AM, type KindBuilder } from './kind-types';

/** User-defined access methods (CREATE ACCESS METHOD ... TYPE INDEX|TABLE HANDLER f), database-wide. */
export interface AccessMethodRow { oid: number; amname: string; amtype: string; handler: string }

/** Rows of this kind ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const ACCESS_METHODS_SQL = `SELECT a.oid::int AS oid, a.amname, a.amtype, a.amhandler::pg_catalog.regproc::text AS handler
       FROM pg_catalog.pg_am a WHERE a.oid >= ${FIRST_USER_OID} AND ${notExtensionMember('pg_catalog.pg_am', 'a.oid')}
      ORDER BY a.amname`;

export function buildAccessMethods(rows: AccessMethodRow[], b: KindBuilder): void {
  for (const a of rows) {
    const type = a.amtype === 't' ? 'TABLE' : 'INDEX';
    const sql = `CREATE ACCESS METHOD ${quoteIdent(a.amname)} TYPE ${type} HANDLER ${a.handler};\n`;
    const node = b.add({ section: 'pre-data', kind: 'ACCESS METHOD', schema: null, name: a.amname, sql }, 10, catalogKey(PG_AM, a.oid));
    b.comment(node, `ACCESS METHOD ${quoteIdent(a.amname)}`, PG_AM, a.oid);
  }
}
