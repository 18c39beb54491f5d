import { quoteIdent, quoteLiteral } from '../quote-ident';
import {
  catalogKey, FIRST_USER_OID, notExtensionMember, optionsClause, PG_FOREIGN_DATA_WRAPPER, PG_FOREIGN_SERVER, PG_USER_MAPPING,
  type KindBuilder,
} from './kind-types';
import { aclStatementRoles, buildAclCommands, ownerStatement } from '../acl';

/**
 * Foreign data wrappers, servers and user mappings (database-wide, as pg_dump dumps them) and the
 * details of foreign tables (their DDL is printed with the other relations in dump-schema.ts).
 * User mappings are dumped WITHOUT their options: those hold remote passwords, and a backup archive
 * must not carry secrets. After a restore, `ALTER USER MAPPING ... OPTIONS (ADD user ..., password ...)`.
 */
export interface FdwRow { oid: number; name: string; owner: string; handler: string | null; validator: string | null; options: string[] | null; acl: string[] | null; aclDefault: string[] }
export interface ServerRow { oid: number; name: string; owner: string; fdw: string; type: string | null; version: string | null; options: string[] | null; acl: string[] | null; aclDefault: string[] }
export interface UserMappingRow { oid: number; role: string | null; server: string }
export interface ForeignTableRow { relid: number; server: string; options: string[] | null; columnOptions: Record<string, string[]> | null }
export interface ForeignDataRows { wrappers: FdwRow[]; servers: ServerRow[]; mappings: UserMappingRow[]; tables: ForeignTableRow[] }

/** Rows of these kinds ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const FDWS_SQL = `SELECT w.oid::int AS oid, w.fdwname AS name, pg_catalog.pg_get_userbyid(w.fdwowner) AS owner,
            CASE WHEN w.fdwhandler <> 0 THEN w.fdwhandler::pg_catalog.regproc::text END AS handler,
            CASE WHEN w.fdwvalidator <> 0 THEN w.fdwvalidator::pg_catalog.regproc::text END AS validator,
            w.fdwoptions::text[] AS options, w.fdwacl::text[] AS acl, pg_catalog.acldefault('F', w.fdwowner)::text[] AS "aclDefault"
       FROM pg_catalog.pg_foreign_data_wrapper w
      WHERE w.oid >= ${FIRST_USER_OID} AND ${notExtensionMember('pg_catalog.pg_foreign_data_wrapper', 'w.oid')} ORDER BY w.fdwname`;

export const SERVERS_SQL = `SELECT s.oid::int AS oid, s.srvname AS name, pg_catalog.pg_get_userbyid(s.srvowner) AS owner, w.fdwname AS fdw,
            s.srvtype AS type, s.srvversion AS version, s.srvoptions::text[] AS options,
            s.srvacl::text[] AS acl, pg_catalog.acldefault('S', s.srvowner)::text[] AS "aclDefault"
       FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
      WHERE s.oid >= ${FIRST_USER_OID} AND ${notExtensionMember('pg_catalog.pg_foreign_server', 's.oid')} ORDER BY s.srvname`;

// The pg_user_mappings VIEW, not the pg_user_mapping table: the table is readable by superusers
// only (it holds passwords), so reading it failed every backup by a non-superuser owner, such as
// Supabase's postgres role ("permission denied for table pg_user_mapping"). pg_dump reads the view.
export const USER_MAPPINGS_SQL = `SELECT u.umid::int AS oid, CASE WHEN u.umuser <> 0 THEN pg_catalog.pg_get_userbyid(u.umuser) END AS role, u.srvname AS server
       FROM pg_catalog.pg_user_mappings u
      WHERE u.srvid >= ${FIRST_USER_OID} ORDER BY 3, 2 NULLS FIRST`;

export const FOREIGN_TABLES_SQL = `SELECT f.ftrelid::int AS relid, s.srvname AS server, f.ftoptions::text[] AS options,
            (SELECT pg_catalog.json_object_agg(a.attname, a.attfdwoptions::text[]) FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = f.ftrelid AND a.attnum > 0 AND NOT a.attisdropped AND a.attfdwoptions IS NOT NULL) AS "columnOptions"
       FROM pg_catalog.pg_foreign_table f JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver
       JOIN pg_catalog.pg_class c ON c.oid = f.ftrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[])`;

export function foreignDataOids(r: ForeignDataRows): number[] {
  return [...r.wrappers, ...r.servers, ...r.mappings].map((x) => x.oid);
}

const opts = (o: string[] | null) => optionsClause(o, quoteIdent, quoteLiteral);

export function buildForeignData(r: ForeignDataRows, b: KindBuilder): void {
  for (const w of r.wrappers) {
    const name = quoteIdent(w.name);
    let sql = `CREATE FOREIGN DATA WRAPPER ${name}`;
    if (w.handler) sql += ` HANDLER ${w.handler}`;
    if (w.validator) sql += ` VALIDATOR ${w.validator}`;
    if (w.options?.length) sql += ` ${opts(w.options)}`;
    sql += ';\n';
    const node = b.add({ section: 'pre-data', kind: 'FOREIGN DATA WRAPPER', schema: null, name: w.name, sql }, 18, catalogKey(PG_FOREIGN_DATA_WRAPPER, w.oid));
    b.comment(node, `FOREIGN DATA WRAPPER ${name}`, PG_FOREIGN_DATA_WRAPPER, w.oid);
    const target = { type: 'FOREIGN DATA WRAPPER' as const, name, owner: w.owner };
    b.security(node, { owner: { sql: ownerStatement('FOREIGN DATA WRAPPER', name, w.owner), role: w.owner }, acl: { sql: buildAclCommands(target, w.acl, w.aclDefault, { serverVersionNum: b.serverVersionNum }), roles: aclStatementRoles(target, w.acl, w.aclDefault) } });
  }
  for (const s of r.servers) {
    const name = quoteIdent(s.name);
    let sql = `CREATE SERVER ${name}`;
    if (s.type !== null) sql += ` TYPE ${quoteLiteral(s.type)}`;
    if (s.version !== null) sql += ` VERSION ${quoteLiteral(s.version)}`;
    sql += ` FOREIGN DATA WRAPPER ${quoteIdent(s.fdw)}`;
    if (s.options?.length) sql += ` ${opts(s.options)}`;
    sql += ';\n';
    const node = b.add({ section: 'pre-data', kind: 'SERVER', schema: null, name: s.name, sql }, 19, catalogKey(PG_FOREIGN_SERVER, s.oid));
    b.comment(node, `SERVER ${name}`, PG_FOREIGN_SERVER, s.oid);
    const target = { type: 'FOREIGN SERVER' as const, name, owner: s.owner };
    b.security(node, { owner: { sql: ownerStatement('SERVER', name, s.owner), role: s.owner }, acl: { sql: buildAclCommands(target, s.acl, s.aclDefault, { serverVersionNum: b.serverVersionNum }), roles: aclStatementRoles(target, s.acl, s.aclDefault) } });
  }
  for (const u of r.mappings) {
    // No OPTIONS: they hold remote credentials (see above).
    const who = u.role === null ? 'PUBLIC' : quoteIdent(u.role);
    const sql = `CREATE USER MAPPING FOR ${who} SERVER ${quoteIdent(u.server)};\n`;
    b.add({ section: 'pre-data', kind: 'USER MAPPING', schema: null, name: `USER MAPPING ${u.role ?? 'public'} SERVER ${u.server}`, sql }, 19, catalogKey(PG_USER_MAPPING, u.oid));
  }
}

/** A foreign table's column line suffix (`OPTIONS (...)`) and its `SERVER s OPTIONS (...)` clause. */
export function foreignTableParts(t: ForeignTableRow): { columnOptions(col: string): string; tail: string } {
  return {
    columnOptions: (col) => {
      const o = t.columnOptions?.[col];
      return o?.length ? ` OPTIONS (${o.map((x) => { const i = x.indexOf('='); return `${quoteIdent(x.slice(0, i))} ${quoteLiteral(x.slice(i + 1))}`; }).join(', ')})` : '';
    },
    tail: `\nSERVER ${quoteIdent(t.server)}${t.options?.length ? `\n${opts(t.options)}` : ''}`,
  };
}
