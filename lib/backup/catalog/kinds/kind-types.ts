import type pg from 'pg';
import type { DumpObject } from '../dump-object';

/**
 * The small contract between the schema dumper (dump-schema.ts) and the modules of this folder,
 * one per object kind that is not a table, type or function (collations, casts, operators, text
 * search, foreign data, ...). Kept free of imports from dump-schema.ts so no import circle forms.
 * The kinds the dumper always had (schemas.ts, types.ts, routines.ts, sequences.ts, relations.ts
 * and the kinds that hang off a relation: constraints.ts, indexes.ts, statistics.ts,
 * rules-triggers.ts) build on the dependency graph itself (../dump-graph.ts) and share the catalog
 * ids below.
 */

/** Runs one catalog query with search_path '' (every deparsed name schema-qualified). */
export type CatalogQuery = <T extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<T[]>;

/** A dumped object (catalog/dump-object.ts). */
export type KindObject = DumpObject;

/** What a kind module may do while the dumper builds its dependency graph. */
export interface KindBuilder {
  /** server_version_num of the source (privilege lists depend on it). */
  serverVersionNum: number;
  /**
   * Adds an object; `keys` are the catalog objects ("classid:oid") its SQL creates, so pg_depend
   * edges from and to them order it. Returns a handle for comments.
   */
  add(obj: KindObject, priority: number, ...keys: string[]): KindNode;
  /** Orders `node` after `first` (an edge pg_depend does not record). */
  after(node: KindNode, first: KindNode): void;
  /** Adds `COMMENT ON <target> IS ...` after the node when the catalog object has a comment. */
  comment(node: KindNode, target: string, classid: number, oid: number, subid?: number): void;
  /**
   * The node's owner and privileges, as their own 'OWNER' / 'ACL' objects after it (never inside
   * its SQL): `restore --no-owner` / `--no-privileges` skip them by kind, as the schemas' ones.
   * `owner`: ownerStatement(...) and the role; `acl`: buildAclCommands(...) and aclStatementRoles(...).
   */
  security(node: KindNode, s: { owner?: { sql: string; role: string }; acl?: { sql: string; roles: string[] } }): void;
}

/** Opaque to kind modules. */
export interface KindNode {
  readonly obj: KindObject;
}

// Catalog ids (pg_class oids of the system catalogs), stable across PostgreSQL versions.
export const PG_TYPE = 1247;
export const PG_PROC = 1255;
export const PG_CLASS = 1259;
export const PG_ATTRDEF = 2604;
export const PG_CONSTRAINT = 2606;
export const PG_NAMESPACE = 2615;
export const PG_REWRITE = 2618;
export const PG_TRIGGER = 2620;
export const PG_EXTENSION = 3079;
export const PG_POLICY = 3256;
export const PG_STATISTIC_EXT = 3381;
export const PG_AM = 2601;
export const PG_AMOP = 2602;
export const PG_AMPROC = 2603;
export const PG_CAST = 2605;
export const PG_CONVERSION = 2607;
export const PG_OPCLASS = 2616;
export const PG_OPERATOR = 2617;
export const PG_OPFAMILY = 2753;
export const PG_COLLATION = 3456;
export const PG_EVENT_TRIGGER = 3466;
export const PG_TRANSFORM = 3576;
export const PG_TS_DICT = 3600;
export const PG_TS_PARSER = 3601;
export const PG_TS_CONFIG = 3602;
export const PG_TS_TEMPLATE = 3764;
export const PG_FOREIGN_DATA_WRAPPER = 2328;
export const PG_FOREIGN_SERVER = 1417;
export const PG_USER_MAPPING = 1418;
export const PG_LARGEOBJECT_METADATA = 2613;

/** First oid a user object can have (FirstNormalObjectId): below it are the built-in objects. */
export const FIRST_USER_OID = 16384;

export const catalogKey = (classid: number, oid: number) => `${classid}:${oid}`;

/** SQL: the object (catalog `cls`, oid column `col`) is not a member of an extension. */
export const notExtensionMember = (cls: string, col: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${cls}'::pg_catalog.regclass AND d.objid = ${col} AND d.deptype = 'e')`;

/** `OPTIONS (k 'v', ...)` from a pg_*options array of `k=v` (empty string when none). */
export function optionsClause(options: string[] | null, quote: (s: string) => string, quoteLit: (s: string) => string): string {
  if (!options?.length) return '';
  const parts = options.map((o) => {
    const i = o.indexOf('=');
    return `${quote(o.slice(0, i))} ${quoteLit(o.slice(i + 1))}`;
  });
  return `OPTIONS (\n    ${parts.join(',\n    ')}\n)`;
}

/**
 * The SQLSTATE of the WARNINGs the archive's own DO blocks raise (a warning class code, 01xxx, of
 * ours): a restore reports those in its result, and no other server WARNING (CREATE PUBLICATION's
 * note on wal_level, for one, says nothing about the restore).
 */
export const RESTORE_WARNING_CODE = '01T01';
