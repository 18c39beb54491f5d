import { quoteIdent, quoteLiteral } from '../quote-ident';
import { catalogKey, FIRST_USER_OID, notExtensionMember, PG_EVENT_TRIGGER, type KindBuilder } from './kind-types';
import { ownerStatement } from '../acl';

/** Event triggers, database-wide. Emitted last (as pg_dump does) so they never fire during the restore. */
export interface EventTriggerRow { oid: number; evtname: string; evtevent: string; owner: string; func: string; enabled: string; tags: string[] | null }

/** Rows of this kind ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const EVENT_TRIGGERS_SQL = `SELECT e.oid::int AS oid, e.evtname, e.evtevent, pg_catalog.pg_get_userbyid(e.evtowner) AS owner,
            e.evtfoid::pg_catalog.regproc::text AS func, e.evtenabled AS enabled, e.evttags::text[] AS tags
       FROM pg_catalog.pg_event_trigger e
      WHERE e.oid >= ${FIRST_USER_OID} AND ${notExtensionMember('pg_catalog.pg_event_trigger', 'e.oid')}
      ORDER BY e.evtname`;

export function buildEventTriggers(rows: EventTriggerRow[], b: KindBuilder): void {
  for (const e of rows) {
    const name = quoteIdent(e.evtname);
    let sql = `CREATE EVENT TRIGGER ${name} ON ${quoteIdent(e.evtevent)}\n`;
    if (e.tags?.length) sql += `         WHEN TAG IN (${e.tags.map(quoteLiteral).join(', ')})\n`;
    sql += `   EXECUTE FUNCTION ${e.func}();\n`;
    const en = { D: 'DISABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' }[e.enabled];
    if (en) sql += `ALTER EVENT TRIGGER ${name} ${en};\n`;
    const node = b.add({ section: 'post-data', kind: 'EVENT TRIGGER', schema: null, name: e.evtname, sql }, 100, catalogKey(PG_EVENT_TRIGGER, e.oid));
    b.comment(node, `EVENT TRIGGER ${name}`, PG_EVENT_TRIGGER, e.oid);
    b.security(node, { owner: { sql: ownerStatement('EVENT TRIGGER', name, e.owner), role: e.owner } });
  }
}
