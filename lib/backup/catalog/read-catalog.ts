import type pg from 'pg';
import { AppError } from '../../errors';
import { kindOids, readKinds, type KindRows } from './kinds';

/**
 * All catalog reads of the schema dumper: one query per object kind for all selected schemas at
 * once (never a query per table or column), so dumping a schema costs a fixed dozen round trips.
 * Callers set search_path to '' first so every deparsed name comes out schema-qualified.
 */

export interface SchemaRow { oid: number; nspname: string }
export interface ExtensionRow {
  oid: number; extname: string; nspname: string; inSchemas: boolean;
  /** Its schema's owner, ACL (null: the default), acldefault() and comment: what a restore that has to create the schema gives it. */
  nspowner: string; nspacl: string[] | null; nspbase: string[]; nspcomment: string | null;
}
export interface TypeRow {
  oid: number; typname: string; nspname: string; typtype: string; typrelid: number; typarray: number;
  basetype: string | null; typnotnull: boolean; defaultExpr: string | null; collation: string | null;
  labels: string[] | null; subtype: string | null; multirange: number | null; multirangeArray: number | null;
  multirangeName: string | null; subtypeOpclass: string | null; canonical: string | null; subdiff: string | null;
}
export interface DomainConstraintRow { oid: number; contypid: number; conname: string; contype: string; def: string; convalidated: boolean }
export interface RelRow {
  oid: number; relname: string; nspname: string; relkind: string; relpersistence: string; reloptions: string[] | null;
  relispartition: boolean; partkey: string | null; partbound: string | null; relrowsecurity: boolean;
  relforcerowsecurity: boolean; relreplident: string; relpages: number; reltype: number; reltypeArray: number | null;
  relispopulated: boolean; viewdef: string | null; parents: number[] | null;
  /** Qualified names of `parents` (search_path ''), for a parent outside the dumped schemas. */
  parentNames: string[] | null;
  /** The TOAST table's reloptions (printed as `toast.name`). */
  toastoptions: string[] | null;
  /** Typed table (`OF type`): the type, qualified. */
  oftype: string | null;
  /** Table access method when it is not the built-in heap (`USING am`). */
  am: string | null;
}
export interface SequenceRow {
  oid: number; relname: string; nspname: string; relpersistence: string; seqtype: string; seqstart: string;
  seqincrement: string; seqmax: string; seqmin: string; seqcache: string; seqcycle: boolean;
}
export interface ColumnRow {
  attrelid: number; attnum: number; attname: string; typ: string; atttypid: number; attcollation: number; attnotnull: boolean; defexpr: string | null;
  adoid: number | null; attidentity: string; attgenerated: string; attislocal: boolean; attinhcount: number;
  coll: string | null; attstorage: string; typstorage: string; attstattarget: number | null; attoptions: string[] | null;
  attcompression: string;
}
export interface ConstraintRow {
  oid: number; conrelid: number; conname: string; contype: string; def: string; convalidated: boolean;
  conislocal: boolean; coninhcount: number; conindid: number; conparentid: number;
  /** PRIMARY KEY / UNIQUE: its index's storage parameters, which pg_get_constraintdef leaves out. */
  indexOptions: string[] | null;
}
export interface IndexRow {
  oid: number; relname: string; nspname: string; indrelid: number; def: string; indisclustered: boolean;
  indisreplident: boolean; conoid: number | null; parentidx: number | null;
  /** Statistics targets set on index columns (ALTER INDEX ... ALTER COLUMN n SET STATISTICS), as [attnum, target]. */
  stattargets: [number, number][] | null;
}
export interface FunctionRow { oid: number; proname: string; nspname: string; prokind: string; idargs: string; def: string | null; provolatile: string }
export interface AggregateRow {
  aggfnoid: number; aggkind: string; args: string; transfn: string; transtype: string; transspace: number;
  finalfn: string | null; finalextra: boolean; finalmodify: string; combinefn: string | null; serialfn: string | null;
  deserialfn: string | null; mtransfn: string | null; minvtransfn: string | null; mtranstype: string | null;
  mtransspace: number; mfinalfn: string | null; mfinalextra: boolean; initval: string | null; minitval: string | null;
  sortop: string | null; parallel: string;
}
/** A trigger; with `tgparentid` set, a partition's clone of its parent's trigger, listed only when its enabled state differs. */
export interface TriggerRow {
  oid: number; tgrelid: number; tgname: string; def: string; tgenabled: string; tgparentid: number;
  /** On a table OUTSIDE the schemas (Supabase: auth.users) and calling a function inside them: that table's schema and name; else null. */
  outsideSchema: string | null; outsideName: string | null;
  /** A constraint trigger (no CREATE OR REPLACE for those). */
  isConstraint: boolean;
}
export interface RuleRow { oid: number; ev_class: number; rulename: string; def: string; ev_enabled: string }
export interface PolicyRow {
  oid: number; polrelid: number; polname: string; polcmd: string; polpermissive: boolean; roles: string[] | null;
  qual: string | null; withcheck: string | null;
}
export interface StatisticsRow { oid: number; stxname: string; nspname: string; stxrelid: number; def: string; stattarget: number | null }
/** A dumped object ("user", pg_identify_object type + identity) using one outside the dumped schemas. */
export interface ExternalUse { userType: string; userIdentity: string; refType: string; refIdentity: string; refClassid: number; refOid: number }
export interface DependRow { classid: number; objid: number; objsubid: number; refclassid: number; refobjid: number; refobjsubid: number; deptype: string }

export interface Catalog {
  serverVersionNum: number;
  schemas: SchemaRow[];
  extensions: ExtensionRow[];
  /** "classid:objid" of every extension member object -> the extension's oid */
  extMembers: Map<string, number>;
  types: TypeRow[];
  domainConstraints: DomainConstraintRow[];
  rels: RelRow[];
  sequences: SequenceRow[];
  columns: ColumnRow[];
  constraints: ConstraintRow[];
  indexes: IndexRow[];
  functions: FunctionRow[];
  aggregates: AggregateRow[];
  triggers: TriggerRow[];
  rules: RuleRow[];
  policies: PolicyRow[];
  statistics: StatisticsRow[];
  depends: DependRow[];
  /** Dumped objects that use something outside the dumped schemas (reported as warnings). */
  unsupported: string[];
  /** Collations, casts, operators, text search, foreign data, ... (lib/backup/catalog/kinds). */
  kinds: KindRows;
  /** The same uses as `unsupported`, structured (a FK to auth.users, a policy calling auth.uid()): external-deps.ts. */
  external: ExternalUse[];
  /** pg_attrdef oid -> objects its expression references */
  defaultRefs: Map<number, { classid: number; oid: number }[]>;
  /** "classoid:objoid:objsubid" -> comment text */
  comments: Map<string, string>;
  /**
   * The search_path a session of the backing-up role starts with (pg_settings.reset_val: the
   * server's, the database's and the role's settings, the connection's options), for the objects
   * of `searchPathUsers`.
   */
  searchPath: string;
  /**
   * Indexes, CHECK constraints (of tables and domains) and materialized views of the schemas whose
   * build, validation or REFRESH runs a routine that finds its objects through the search_path
   * (search-path.ts): each as { classid, oid } (a materialized view as its pg_class row), once per
   * such routine it reaches (`routine`: its pg_proc oid).
   */
  searchPathUsers: { classid: number; oid: number; routine: number }[];
}

const NS = `n.nspname = ANY($1::text[])`;

/**
 * A function making one row object of a query's result from its array row, as an object literal
 * with every field in order. pg's own row objects get their fields added one by one after four
 * in-object slots, so each carries a separate property array: with ~140,000 catalog rows on a
 * 5,000-table database that was ~10 MB more of the dump's peak heap.
 */
function rowMaker(names: string[]): (values: unknown[]) => unknown {
  return new Function('v', `return {${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')}};`) as (values: unknown[]) => unknown;
}

function catalogQuery(client: pg.ClientBase, schemas: string[]) {
  return async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = [schemas]): Promise<T[]> => {
    const r = await client.query<unknown[]>({ text: sql, values: params, rowMode: 'array' });
    const make = rowMaker(r.fields.map((f) => f.name));
    return r.rows.map((v) => make(v) as T);
  };
}

/**
 * The columns of the schemas' relations and composite types. Its functions (format_type,
 * pg_get_expr) lock nothing the catalog fingerprint does not lock anyway, so the schema dump may
 * read them on the fingerprint's connection (DumpSchemaOptions.helper).
 */
export function readColumns(client: pg.ClientBase, schemas: string[]): Promise<ColumnRow[]> {
  return catalogQuery(client, schemas)<ColumnRow>(
    `SELECT a.attrelid::int AS attrelid, a.attnum::int AS attnum, a.attname,
            pg_catalog.format_type(a.atttypid, a.atttypmod) AS typ, a.atttypid::int AS atttypid, a.attcollation::int AS attcollation, a.attnotnull,
            pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS defexpr, ad.oid::int AS adoid,
            a.attidentity, a.attgenerated, a.attislocal, a.attinhcount::int AS attinhcount,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                 THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END AS coll,
            a.attstorage, t.typstorage, a.attstattarget::int AS attstattarget,
            -- Only the options ALTER COLUMN SET accepts (kinds/relations.ts): a server may keep its own
            -- in attoptions on every column (this PG 15.20: pg_attver=...), ~20 MB of parsing on 5,000 tables.
            (SELECT pg_catalog.array_agg(u.o ORDER BY u.i) FROM pg_catalog.unnest(a.attoptions) WITH ORDINALITY AS u(o, i)
              WHERE u.o ~ '^n_distinct(_inherited)?=') AS attoptions,
            a.attcompression::text AS attcompression
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
      WHERE ${NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'c', 'f') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
  );
}

/**
 * The catalog of `schemas`, read inside the caller's snapshot; `opts.columns`: the columns, already
 * being read (readColumns) on another connection in the same snapshot.
 */
export async function readCatalog(client: pg.ClientBase, schemas: string[], opts: { columns?: Promise<ColumnRow[]> } = {}): Promise<Catalog> {
  const q = catalogQuery(client, schemas);
  const [{ v, sp: searchPath }] = await q<{ v: number; sp: string | null }>(
    `SELECT pg_catalog.current_setting('server_version_num')::int AS v, (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name = 'search_path') AS sp`,
    [],
  );
  // The queries below use catalog columns of PostgreSQL 14+ (pg_range.rngmultitypid, pg_trigger.tgparentid).
  if (v < 140000) throw new AppError('incompatible', `PostgreSQL ${Math.floor(v / 10000)} is not supported by the schema dumper (14 or newer needed)`);

  const columnsRead = opts.columns ?? readColumns(client, schemas);
  columnsRead.catch(() => undefined); // awaited in its place below; a failure is reported there

  const schemaRows = await q<SchemaRow>(`SELECT n.oid::int AS oid, n.nspname FROM pg_catalog.pg_namespace n WHERE ${NS} ORDER BY n.nspname`);
  // All extensions (plpgsql is in every database): the dumper keeps those in the dumped schemas
  // and those that dumped objects use, wherever they live (Supabase puts them in "extensions").
  const extensions = await q<ExtensionRow>(
    `SELECT e.oid::int AS oid, e.extname, n.nspname, ${NS} AS "inSchemas",
            pg_catalog.pg_get_userbyid(n.nspowner)::text AS nspowner, n.nspacl::text[] AS nspacl,
            pg_catalog.acldefault('n', n.nspowner)::text[] AS nspbase, pg_catalog.obj_description(n.oid, 'pg_namespace') AS nspcomment
       FROM pg_catalog.pg_extension e
       JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname <> 'plpgsql' ORDER BY e.extname`,
  );
  // Members, plus the array types of member types (those are not members themselves, but a column
  // of type hstore[] needs the hstore extension just the same).
  const members = await q<{ classid: number; objid: number; ext: number }>(
    `SELECT d.classid::int AS classid, d.objid::int AS objid, d.refobjid::int AS ext FROM pg_catalog.pg_depend d
      WHERE d.deptype = 'e' AND d.refclassid = 'pg_catalog.pg_extension'::regclass
     UNION ALL
     SELECT d.classid::int, t.typarray::int, d.refobjid::int FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_type t ON t.oid = d.objid
      WHERE d.deptype = 'e' AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.classid = 'pg_catalog.pg_type'::regclass
        AND t.typarray <> 0`,
    [],
  );
  const extMembers = new Map(members.map((m) => [`${m.classid}:${m.objid}`, m.ext]));

  const types = await q<TypeRow>(
    `SELECT t.oid::int AS oid, t.typname, n.nspname, t.typtype, t.typrelid::int AS typrelid, t.typarray::int AS typarray,
            CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS basetype,
            t.typnotnull, pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS "defaultExpr",
            CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> bt.typcollation
                   THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                 WHEN t.typtype = 'r' AND r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
                   THEN pg_catalog.quote_ident(rcn.nspname) || '.' || pg_catalog.quote_ident(rco.collname) END AS collation,
            (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,
            CASE WHEN t.typtype = 'r' THEN pg_catalog.format_type(r.rngsubtype, NULL) END AS subtype,
            r.rngmultitypid::int AS multirange, mt.typarray::int AS "multirangeArray",
            CASE WHEN mt.oid IS NOT NULL THEN pg_catalog.quote_ident(mn.nspname) || '.' || pg_catalog.quote_ident(mt.typname) END AS "multirangeName",
            CASE WHEN t.typtype = 'r' AND NOT opc.opcdefault
                   THEN pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) END AS "subtypeOpclass",
            CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::text END AS canonical,
            CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::text END AS subdiff
       FROM pg_catalog.pg_type t
       JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
       LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation
       LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
       LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
       LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
       LEFT JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
       LEFT JOIN pg_catalog.pg_collation rco ON rco.oid = r.rngcollation
       LEFT JOIN pg_catalog.pg_namespace rcn ON rcn.oid = rco.collnamespace
       LEFT JOIN pg_catalog.pg_type mt ON mt.oid = r.rngmultitypid
       LEFT JOIN pg_catalog.pg_namespace mn ON mn.oid = mt.typnamespace
       LEFT JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc
       LEFT JOIN pg_catalog.pg_namespace opn ON opn.oid = opc.opcnamespace
      WHERE ${NS} AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c') OR (t.typtype = 'p' AND NOT t.typisdefined))
      ORDER BY n.nspname, t.typname`,
  );
  const domainConstraints = await q<DomainConstraintRow>(
    `SELECT con.oid::int AS oid, con.contypid::int AS contypid, con.conname, con.contype,
            pg_catalog.pg_get_constraintdef(con.oid) AS def, con.convalidated
       FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_type t ON t.oid = con.contypid
       JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      WHERE ${NS} AND con.contypid <> 0 ORDER BY con.conname`,
  );
  const rels = await q<RelRow>(
    `SELECT c.oid::int AS oid, c.relname, n.nspname, c.relkind, c.relpersistence, c.reloptions::text[] AS reloptions,
            c.relispartition,
            CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey,
            CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partbound,
            c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relpages, c.reltype::int AS reltype,
            rt.typarray::int AS "reltypeArray", c.relispopulated,
            CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef,
            (SELECT array_agg(i.inhparent::int ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) AS parents,
            (SELECT array_agg(i.inhparent::pg_catalog.regclass::text ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) AS "parentNames",
            (SELECT tc.reloptions::text[] FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid) AS toastoptions,
            CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END AS oftype,
            CASE WHEN am.amname <> 'heap' OR c.relkind = 'p' THEN pg_catalog.quote_ident(am.amname) END AS am
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_type rt ON rt.oid = c.reltype
       LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam AND c.relkind IN ('r', 'm', 'p')
      WHERE ${NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      ORDER BY n.nspname, c.relname`,
  );
  const sequences = await q<SequenceRow>(
    `SELECT c.oid::int AS oid, c.relname, n.nspname, c.relpersistence, pg_catalog.format_type(s.seqtypid, NULL) AS seqtype,
            s.seqstart::text AS seqstart, s.seqincrement::text AS seqincrement, s.seqmax::text AS seqmax,
            s.seqmin::text AS seqmin, s.seqcache::text AS seqcache, s.seqcycle
       FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${NS} ORDER BY n.nspname, c.relname`,
  );
  const constraints = await q<ConstraintRow>(
    `SELECT con.oid::int AS oid, con.conrelid::int AS conrelid, con.conname, con.contype,
            pg_catalog.pg_get_constraintdef(con.oid) AS def, con.convalidated, con.conislocal,
            con.coninhcount::int AS coninhcount, con.conindid::int AS conindid, con.conparentid::int AS conparentid,
            CASE WHEN con.contype IN ('p', 'u') THEN (SELECT ic.reloptions::text[] FROM pg_catalog.pg_class ic WHERE ic.oid = con.conindid) END AS "indexOptions"
       FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${NS} AND con.contype IN ('c', 'p', 'u', 'x', 'f')
      ORDER BY con.conrelid, con.conname`,
  );
  const indexes = await q<IndexRow>(
    `SELECT i.indexrelid::int AS oid, ic.relname, n.nspname, i.indrelid::int AS indrelid,
            pg_catalog.pg_get_indexdef(i.indexrelid) AS def, i.indisclustered, i.indisreplident,
            (SELECT con.oid::int FROM pg_catalog.pg_constraint con
              WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')) AS conoid,
            (SELECT h.inhparent::int FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid) AS parentidx,
            (SELECT pg_catalog.json_agg(json_build_array(a.attnum, a.attstattarget) ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0) AS stattargets
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
      WHERE ${NS} AND tc.relkind IN ('r', 'p', 'm')
        -- An index left invalid by a failed CREATE INDEX CONCURRENTLY is not dumped (as pg_dump):
        -- rebuilt valid, a unique one fails the restore on the duplicates that made it fail. A
        -- partitioned index is invalid until every partition has one attached: it is kept.
        AND (i.indisvalid OR ic.relkind = 'I')
      ORDER BY n.nspname, ic.relname`,
  );
  // Functions internally dependent on another object (range/multirange constructors) are created
  // with it; re-creating them would replace them and lose that dependency.
  const functions = await q<FunctionRow>(
    `SELECT p.oid::int AS oid, p.proname, n.nspname, p.prokind, p.provolatile,
            pg_catalog.pg_get_function_identity_arguments(p.oid) AS idargs,
            CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END AS def
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE ${NS}
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
      ORDER BY n.nspname, p.proname, 5`,
  );
  const nz = (col: string) => `CASE WHEN ${col} <> 0 THEN ${col}::pg_catalog.regproc::text END`;
  const aggregates = await q<AggregateRow>(
    `SELECT a.aggfnoid::int AS aggfnoid, a.aggkind, pg_catalog.pg_get_function_arguments(a.aggfnoid) AS args,
            a.aggtransfn::pg_catalog.regproc::text AS transfn, pg_catalog.format_type(a.aggtranstype, NULL) AS transtype,
            a.aggtransspace AS transspace, ${nz('a.aggfinalfn')} AS finalfn, a.aggfinalextra AS finalextra,
            a.aggfinalmodify AS finalmodify, ${nz('a.aggcombinefn')} AS combinefn, ${nz('a.aggserialfn')} AS serialfn,
            ${nz('a.aggdeserialfn')} AS deserialfn, ${nz('a.aggmtransfn')} AS mtransfn, ${nz('a.aggminvtransfn')} AS minvtransfn,
            CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END AS mtranstype,
            a.aggmtransspace AS mtransspace, ${nz('a.aggmfinalfn')} AS mfinalfn, a.aggmfinalextra AS mfinalextra,
            a.agginitval AS initval, a.aggminitval AS minitval,
            CASE WHEN a.aggsortop <> 0 THEN (SELECT 'OPERATOR(' || pg_catalog.quote_ident(on_.nspname) || '.' || o.oprname || ')'
                    FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace on_ ON on_.oid = o.oprnamespace WHERE o.oid = a.aggsortop) END AS sortop,
            p.proparallel AS parallel
       FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
       JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE ${NS}`,
  );
  const triggers = await q<TriggerRow>(
    `SELECT t.oid::int AS oid, t.tgrelid::int AS tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid) AS def, t.tgenabled,
            t.tgparentid::int AS tgparentid,
            CASE WHEN NOT ${NS} THEN n.nspname END AS "outsideSchema", CASE WHEN NOT ${NS} THEN c.relname END AS "outsideName",
            t.tgconstraint <> 0 AS "isConstraint"
       FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT t.tgisinternal
        AND (${NS}
             -- A trigger on a table outside the schemas that calls one of their functions (Supabase's
             -- on_auth_user_created on auth.users, filling public.profiles) is part of the app: it
             -- was lost with every backup of the schemas, and new sign-ups stopped getting profiles.
             OR (t.tgparentid = 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                              WHERE p.oid = t.tgfoid AND pn.nspname = ANY($1::text[])
                                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = 'pg_catalog.pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e'))))
        AND (t.tgparentid = 0 OR t.tgenabled <> (SELECT p.tgenabled FROM pg_catalog.pg_trigger p WHERE p.oid = t.tgparentid))
      ORDER BY t.tgrelid, t.tgname`,
  );
  const rules = await q<RuleRow>(
    `SELECT r.oid::int AS oid, r.ev_class::int AS ev_class, r.rulename,
            CASE WHEN r.rulename <> '_RETURN' THEN pg_catalog.pg_get_ruledef(r.oid) ELSE '' END AS def, r.ev_enabled
       FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${NS} ORDER BY r.ev_class, r.rulename`,
  );
  const policies = await q<PolicyRow>(
    `SELECT p.oid::int AS oid, p.polrelid::int AS polrelid, p.polname, p.polcmd, p.polpermissive,
            CASE WHEN p.polroles = '{0}' THEN NULL ELSE
              (SELECT array_agg(pg_catalog.quote_ident(r.rolname) ORDER BY u.i) FROM unnest(p.polroles) WITH ORDINALITY AS u(oid, i) JOIN pg_catalog.pg_roles r ON r.oid = u.oid) END AS roles,
            pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS withcheck
       FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${NS} ORDER BY p.polrelid, p.polname`,
  );
  // Extended statistics (CREATE STATISTICS). stxstattarget is -1 for "default" on 15, NULL on 17.
  const statistics = await q<StatisticsRow>(
    `SELECT s.oid::int AS oid, s.stxname, n.nspname, s.stxrelid::int AS stxrelid,
            pg_catalog.pg_get_statisticsobjdef(s.oid) AS def, s.stxstattarget::int AS stattarget
       FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
      WHERE ${NS} ORDER BY n.nspname, s.stxname`,
  );

  const kinds = await readKinds(q, schemas);

  const columns = await columnsRead;
  // Every dumped object's catalog oid, to fetch only the pg_depend / pg_description rows that matter.
  const oids = new Set<number>();
  for (const xs of [schemaRows, extensions, types, rels, sequences, functions, triggers, rules, policies, indexes, constraints, domainConstraints, statistics] as { oid: number }[][]) {
    for (const x of xs) oids.add(x.oid);
  }
  for (const t of types) if (t.typrelid) oids.add(t.typrelid);
  for (const o of kindOids(kinds)) oids.add(o);
  for (const c of columns) if (c.adoid !== null) oids.add(c.adoid);
  // One array literal for the three queries below: pg would turn a JS array of ~70,000 oids into
  // its text form once per query, by string concatenation (~28 MB of garbage at 5,000 tables).
  const oidList = `{${[...oids].join(',')}}`;
  // With, as rows of deptype 's' (no pg_depend deptype), the objects of SEARCH_PATH_USERS_SQL: one
  // query fewer (the dump's catalog queries are a fixed, small number: schema-dump.test.ts).
  const dependAndUsers = await q<DependRow>(
    `${SEARCH_PATH_USERS_SQL}
     SELECT classid::int AS classid, objid::int AS objid, objsubid, refclassid::int AS refclassid, refobjid::int AS refobjid,
            refobjsubid, deptype::text AS deptype
       FROM pg_catalog.pg_depend WHERE objid = ANY($1::oid[]) AND deptype IN ('n', 'a', 'i', 'x')
     UNION ALL
     SELECT u.classid, u.oid, 0, 0, u.routine, 0, 's' FROM search_path_users u`,
    [oidList, schemas],
  );
  const depends = dependAndUsers.filter((d) => d.deptype !== 's');
  const searchPathUsers = dependAndUsers.filter((d) => d.deptype === 's').map((d) => ({ classid: d.classid, oid: d.objid, routine: d.refobjid }));
  const defaultRefs = new Map<number, { classid: number; oid: number }[]>();
  for (const d of depends) {
    if (d.classid !== 2604 || d.deptype !== 'n') continue;
    const a = defaultRefs.get(d.objid) ?? [];
    a.push({ classid: d.refclassid, oid: d.refobjid });
    defaultRefs.set(d.objid, a);
  }
  // Dumped objects that use something in a schema that is not dumped (a foreign key to auth.users
  // on Supabase, a view over another schema's table): the restore into an empty database would
  // fail there, so say so up front.
  const outside = await q<ExternalUse>(
    `SELECT DISTINCT o.type AS "userType", o.identity AS "userIdentity", r.type AS "refType", r.identity AS "refIdentity",
            d.refclassid::int AS "refClassid", d.refobjid::int AS "refOid"
       FROM pg_catalog.pg_depend d,
            LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, 0) o,
            LATERAL pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0) r
      WHERE d.objid = ANY($1::oid[])
        AND (d.deptype = 'n' OR (d.deptype = 'a' AND d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
                                 AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = d.objid AND i.inhparent = d.refobjid))
             -- a dumped trigger on a table outside (auth.users): the target must have that table
             OR (d.deptype = 'a' AND d.classid = 'pg_catalog.pg_trigger'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass))
        AND d.classid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass, 'pg_catalog.pg_proc'::regclass,
                          'pg_catalog.pg_constraint'::regclass, 'pg_catalog.pg_attrdef'::regclass, 'pg_catalog.pg_rewrite'::regclass,
                          'pg_catalog.pg_trigger'::regclass, 'pg_catalog.pg_policy'::regclass,
                          -- the kinds of kinds/: an event trigger, cast, transform, operator, access
                          -- method, foreign data wrapper ... using a function or type outside
                          'pg_catalog.pg_event_trigger'::regclass, 'pg_catalog.pg_cast'::regclass, 'pg_catalog.pg_transform'::regclass,
                          'pg_catalog.pg_operator'::regclass, 'pg_catalog.pg_opclass'::regclass, 'pg_catalog.pg_opfamily'::regclass,
                          'pg_catalog.pg_amop'::regclass, 'pg_catalog.pg_amproc'::regclass, 'pg_catalog.pg_am'::regclass,
                          'pg_catalog.pg_conversion'::regclass, 'pg_catalog.pg_collation'::regclass, 'pg_catalog.pg_statistic_ext'::regclass,
                          'pg_catalog.pg_ts_config'::regclass, 'pg_catalog.pg_ts_dict'::regclass, 'pg_catalog.pg_ts_parser'::regclass,
                          'pg_catalog.pg_ts_template'::regclass, 'pg_catalog.pg_foreign_data_wrapper'::regclass,
                          'pg_catalog.pg_foreign_server'::regclass)
        AND d.refclassid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass, 'pg_catalog.pg_proc'::regclass)
        AND r.schema IS NOT NULL AND r.schema NOT IN ('pg_catalog', 'information_schema') AND NOT (r.schema = ANY($2::text[]))
        AND NOT (r.schema = ANY(SELECT pg_catalog.quote_ident(x) FROM unnest($2::text[]) x)) -- identify_object quotes it
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = d.refclassid AND x.objid = d.refobjid AND x.deptype = 'e')
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_depend x ON x.classid = 'pg_catalog.pg_type'::regclass
                          AND x.objid = t.typelem AND x.deptype = 'e'
                         WHERE d.refclassid = 'pg_catalog.pg_type'::regclass AND t.oid = d.refobjid)
      ORDER BY 3, 4, 1, 2`,
    [oidList, schemas],
  );
  const commentRows = await q<{ classoid: number; objoid: number; objsubid: number; description: string }>(
    `SELECT classoid::int AS classoid, objoid::int AS objoid, objsubid, description FROM pg_catalog.pg_description WHERE objoid = ANY($1::oid[])`,
    [oidList],
  );
  const comments = new Map(commentRows.map((c) => [`${c.classoid}:${c.objoid}:${c.objsubid}`, c.description]));

  return {
    serverVersionNum: v,
    schemas: schemaRows,
    extensions,
    extMembers,
    types,
    domainConstraints,
    rels,
    sequences,
    columns,
    constraints,
    indexes,
    functions,
    aggregates,
    triggers,
    rules,
    policies,
    statistics,
    depends,
    unsupported: outside.map((u) => `${u.userType} ${u.userIdentity} uses ${u.refType} ${u.refIdentity} outside the dumped schemas`),
    external: outside,
    kinds,
    defaultRefs,
    comments,
    searchPath: searchPath ?? '',
    searchPathUsers,
  };
}

/**
 * The CTEs (`search_path_users`: classid, oid) of the objects of the schemas ($2) that a restore evaluates (an index's expressions and predicate, built
 * with its data; a CHECK, validated; a materialized view's query, run by REFRESH) and that call —
 * directly, or through routines with a SQL-standard body (parsed, so their own names are bound) and
 * views — a routine that binds names only when it runs: a body in any language but C or internal,
 * not SQL-standard, without its own search_path setting (`SET search_path`), outside pg_catalog.
 * Such a routine finds its tables, types and functions through the session's search_path: under the
 * archive's '' (as pg_dump's), `CREATE INDEX … (public.ll_to_earth(lat, lon))` (earthdistance 1.1,
 * PostgreSQL 15) failed every restore with 'type "earth" does not exist', pg_dump's too. Also
 * generated columns (pg_attrdef) and partition keys (a partitioned table's pg_class row), which
 * PostgreSQL inlines at CREATE TABLE already: the backup warns about those (search-path.ts).
 */
/**
 * The search_path-bound routines (search-path.ts) the indexes, CHECKs, materialized views,
 * generated columns and partition keys of `schemas` run, as `ALTER FUNCTION` can name them: those
 * the current role may alter (owner, or a member of its owner) and the others. For a data-only or
 * --into-schema reload, which gives the first its sessions' search_path while it loads
 * (restore/target-search-path.ts).
 */
export async function searchPathRoutines(client: pg.ClientBase, schemas: string[]): Promise<{ alterable: string[]; others: string[] }> {
  const r = await client.query<{ sig: string; mine: boolean }>(
    `${SEARCH_PATH_USERS_SQL.replaceAll('$2', '$1')}
     SELECT DISTINCT p.oid::pg_catalog.regprocedure::text AS sig, pg_catalog.pg_has_role(p.proowner, 'MEMBER') AS mine
       FROM search_path_users u JOIN pg_catalog.pg_proc p ON p.oid = u.routine
      ORDER BY 1`,
    [schemas],
  );
  return { alterable: r.rows.filter((x) => x.mine).map((x) => x.sig), others: r.rows.filter((x) => !x.mine).map((x) => x.sig) };
}

const SEARCH_PATH_USERS_SQL = `WITH RECURSIVE bound AS (
       SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
        WHERE l.lanname NOT IN ('c', 'internal') AND p.prosqlbody IS NULL AND p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) x WHERE x LIKE 'search\\_path=%')
     ), up(classid, objid, depth, routine) AS (
       -- From those routines up their users (pg_depend by the referenced object, an index scan): a
       -- rule is its view or materialized view; the walk goes on through SQL-standard bodies and views.
       SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, b.oid, 0, b.oid FROM bound b
       UNION
       SELECT CASE WHEN d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid ELSE d.classid END,
              COALESCE(rw.ev_class, d.objid), u.depth + 1, u.routine
         FROM up u
         LEFT JOIN pg_catalog.pg_proc wp ON u.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND wp.oid = u.objid
         LEFT JOIN pg_catalog.pg_class uc ON u.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND uc.oid = u.objid
         JOIN pg_catalog.pg_depend d ON d.refclassid = u.classid AND d.refobjid = u.objid AND d.deptype IN ('n', 'a')
              AND d.classid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_class'::pg_catalog.regclass,
                                'pg_catalog.pg_constraint'::pg_catalog.regclass, 'pg_catalog.pg_rewrite'::pg_catalog.regclass,
                                'pg_catalog.pg_attrdef'::pg_catalog.regclass)
         LEFT JOIN pg_catalog.pg_rewrite rw ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.oid = d.objid
        WHERE u.depth < 8 AND (u.depth = 0 OR wp.prosqlbody IS NOT NULL OR uc.relkind = 'v')
          AND NOT (d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.ev_class = u.objid)
     ), search_path_users AS (
       SELECT DISTINCT u.classid::int AS classid, u.objid::int AS oid, u.routine::int AS routine
         FROM up u
         LEFT JOIN pg_catalog.pg_class c ON u.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = u.objid
         LEFT JOIN pg_catalog.pg_constraint co ON u.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND co.oid = u.objid
         LEFT JOIN pg_catalog.pg_attrdef ad ON u.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND ad.oid = u.objid
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
         LEFT JOIN pg_catalog.pg_class ac ON ac.oid = ad.adrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = COALESCE(c.relnamespace, co.connamespace, ac.relnamespace)
        WHERE n.nspname = ANY($2::text[]) AND (c.relkind IN ('i', 'I', 'm', 'p') OR co.contype = 'c' OR a.attgenerated = 's')
     )`;
