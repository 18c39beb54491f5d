import type pg from 'pg';
import { AppError } from '../../errors';
import { qualifiedName, quoteIdent, quoteLiteral } from './quote-ident';
import { readCatalog, type Catalog, type ColumnRow, type ConstraintRow, type ExternalUse, type RelRow } from './read-catalog';
import type { DumpObject } from './dump-object';
import { orderObjects, type DumpNode } from './order-objects';
import { buildKinds } from './kinds';
import { foreignTableParts } from './kinds/foreign-data';
import { addSecurityNodes, readSecurity, type DumpRoles, type SecurityCatalog } from './dump-security';

/**
 * Schema dumper: the DDL of the configured schemas, generated from the PostgreSQL catalogs with the
 * server's own deparsers (pg_get_*def, format_type, pg_get_expr) — no pg_dump binary. The output,
 * executed on an empty database (with the archive header, the data and `sequenceSetSql` in between),
 * recreates catalogs that `pg_dump --schema-only` prints identically to the source's.
 */

export type { DumpObject } from './dump-object';

export interface TableToCopy {
  schema: string;
  name: string;
  oid: number;
  /** COPY column order: attnum order, excluding dropped and generated (stored) columns. */
  columns: string[];
  /** pg_class.relpages, for chunk planning. */
  relpages: number;
  /** True for tables listed in opts.excludeTableData: definition kept, no rows. */
  dataExcluded: boolean;
  /** A table outside the dumped schemas whose rows are backed up because dumped tables reference it (referenced-data.ts). */
  referenced?: boolean;
}

export interface SequenceValue {
  schema: string;
  name: string;
  lastValue: string;
  isCalled: boolean;
}

export interface SchemaDump {
  /** All pre-data objects in dependency order, then all post-data objects in a valid order. */
  objects: DumpObject[];
  /** Every table with storage whose rows must be copied (ordinary tables and leaf partitions), by schema then name. */
  tables: TableToCopy[];
  /** Sequence values read now (inside the caller's snapshot transaction). */
  sequences: SequenceValue[];
  /** `SELECT pg_catalog.setval(...)` for every sequence, to run after the data. */
  sequenceSetSql: string;
  /**
   * Objects in the schemas that the dump does NOT reproduce (e.g. 'foreign table public.x',
   * 'collation public.c'), and dependency loops that had to be broken. Empty for a faithful dump;
   * the caller decides whether to warn or fail. (Addition to the agreed interface.)
   */
  warnings: string[];
  /** Roles the restore needs: owners, privilege grantees/grantors, policy roles (dump-security.ts). */
  roles: DumpRoles;
  /** Uses of objects outside the dumped schemas (also in `warnings`, one line each). */
  external: ExternalUse[];
}

export interface DumpSchemaOptions {
  /** Schemas to dump, e.g. ['public']. Each must exist. */
  schemas: string[];
  /** Tables whose rows are not copied (definition kept), qualified without quotes: 'public.backup_runs'. */
  excludeTableData: string[];
}

/**
 * Reads the catalogs and returns the DDL, the tables to copy and the sequence values.
 * Contract: call inside an open `REPEATABLE READ READ ONLY` transaction (one snapshot), after the
 * tables are locked (see `listTablesToLock`). Only reads (works on a read replica); it sets
 * `search_path` to '' (transaction-local) while it runs, so that the deparsers schema-qualify every
 * name, and puts the previous value back before returning. Throws AppError('not_found') for a
 * schema that does not exist, AppError('incompatible') for a server older than PostgreSQL 14 and
 * AppError('internal') when called outside a transaction.
 */
export async function dumpSchema(client: pg.ClientBase, opts: DumpSchemaOptions): Promise<SchemaDump> {
  const prev = await client.query<{ sp: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp`);
  // Transaction-local, so an aborted transaction cannot leave it behind. Outside a transaction it
  // would be gone by the next statement and names would deparse unqualified: refuse that.
  await client.query(`SELECT pg_catalog.set_config('search_path', '', true)`);
  const now = await client.query<{ sp: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp`);
  if (now.rows[0].sp !== '') {
    throw new AppError('internal', 'dumpSchema must run inside a transaction (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY)');
  }
  const restore = () => client.query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [prev.rows[0].sp]);
  let dump: SchemaDump;
  try {
    const cat = await readCatalog(client, opts.schemas);
    const missing = opts.schemas.filter((s) => !cat.schemas.some((n) => n.nspname === s));
    if (missing.length) throw new AppError('not_found', `schema ${missing.map((s) => JSON.stringify(s)).join(', ')} does not exist`);
    const warnings = [...cat.unsupported];
    const security = await readSecurity(client, opts.schemas, cat.serverVersionNum);
    const { objects, roles } = buildObjects(cat, warnings, security, opts.schemas);
    const tables = tablesToCopy(cat, opts.excludeTableData);
    const sequences = await readSequenceValues(client, cat);
    const sequenceSetSql = sequences
      .map((s) => `SELECT pg_catalog.setval(${quoteLiteral(qualifiedName(s.schema, s.name))}, ${s.lastValue}, ${s.isCalled});\n`)
      .join('');
    dump = { objects, tables, sequences, sequenceSetSql, warnings, roles, external: cat.external };
  } catch (e) {
    // In an aborted transaction the restore fails too; the original error is the one to report.
    await restore().catch(() => undefined);
    throw e;
  }
  await restore();
  return dump;
}

/**
 * Qualified, quoted names of the relations whose data or definition the dump reads (tables,
 * partitioned tables; LOCK TABLE refuses materialized views), for
 * `LOCK TABLE ... IN ACCESS SHARE MODE` before `dumpSchema` — as pg_dump does, so no concurrent DDL
 * can change a table between the catalog read and its COPY.
 */
export async function listTablesToLock(client: pg.ClientBase, schemas: string[]): Promise<string[]> {
  const r = await client.query<{ nspname: string; relname: string }>(
    `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY n.nspname, c.relname`,
    [schemas],
  );
  return r.rows.map((x) => qualifiedName(x.nspname, x.relname));
}

// Catalog ids (pg_class oids of the system catalogs), stable across PostgreSQL versions.
export const PG_CLASS = 1259;
export const PG_TYPE = 1247;
export const PG_PROC = 1255;
export const PG_ATTRDEF = 2604;
export const PG_CONSTRAINT = 2606;
export const PG_REWRITE = 2618;
export const PG_TRIGGER = 2620;
export const PG_NAMESPACE = 2615;
export const PG_EXTENSION = 3079;
export const PG_POLICY = 3256;
export const PG_STATISTIC_EXT = 3381;

/**
 * Sort priority within a section, after pg_dump's pg_dump_sort.c: ties in the dependency order are
 * broken by this, then by schema and name, so the output is stable run to run.
 */
const PRIORITY: Record<string, number> = {
  SCHEMA: 1,
  EXTENSION: 5,
  TYPE: 6,
  DOMAIN: 6,
  FUNCTION: 8,
  PROCEDURE: 8,
  AGGREGATE: 9,
  SEQUENCE: 20,
  TABLE: 20,
  VIEW: 20,
  'MATERIALIZED VIEW': 20,
  'TABLE ATTACH': 21,
  DEFAULT: 23,
  'SEQUENCE OWNED BY': 24,
  CONSTRAINT: 30,
  'CHECK CONSTRAINT': 30,
  INDEX: 31,
  'INDEX ATTACH': 32,
  STATISTICS: 33,
  RULE: 34,
  TRIGGER: 35,
  'FK CONSTRAINT': 36,
  'ROW SECURITY': 37,
  POLICY: 37,
  'MATERIALIZED VIEW DATA': 99,
};

const key = (classid: number, oid: number) => `${classid}:${oid}`;

function buildObjects(cat: Catalog, warnings: string[], security: SecurityCatalog, schemas: string[]): { objects: DumpObject[]; roles: DumpRoles } {
  const nodes: DumpNode[] = [];
  /** catalog object ("classid:oid") -> the node whose SQL creates it */
  const owner = new Map<string, DumpNode>();

  const add = (obj: DumpObject, ...catalogKeys: string[]): DumpNode => {
    const node: DumpNode = { obj, priority: PRIORITY[obj.kind] ?? 50, deps: new Set(), comments: [], id: nodes.length };
    nodes.push(node);
    for (const k of catalogKeys) owner.set(k, node);
    return node;
  };
  const comment = (node: DumpNode, target: string, classid: number, oid: number, subid = 0, label?: string) => {
    const text = cat.comments.get(`${classid}:${oid}:${subid}`);
    if (text === undefined) return;
    node.comments.push({
      section: node.obj.section,
      kind: 'COMMENT',
      schema: node.obj.schema,
      name: label ?? target,
      table: node.obj.table,
      sql: `COMMENT ON ${target} IS ${quoteLiteral(text)};\n`,
    });
  };

  // Extensions first: their member objects are never dumped, and a dependency on a member is a
  // dependency on the extension.
  // An extension is dumped when it lives in a dumped schema or a dumped object uses one of its
  // members (or it is required by such an extension).
  const schemaSet = new Set(cat.schemas.map((n) => n.nspname));
  const extOids = new Set(cat.extensions.map((e) => e.oid));
  const needed = new Set(cat.extensions.filter((e) => e.inSchemas).map((e) => e.oid));
  const extRequires = new Map<number, number[]>();
  for (const d of cat.depends) {
    const refExt = d.refclassid === PG_EXTENSION ? d.refobjid : cat.extMembers.get(key(d.refclassid, d.refobjid));
    if (refExt === undefined || !extOids.has(refExt)) continue;
    if (d.classid === PG_EXTENSION) {
      extRequires.set(d.objid, [...(extRequires.get(d.objid) ?? []), refExt]);
    } else if (!cat.extMembers.has(key(d.classid, d.objid))) {
      needed.add(refExt);
    }
  }
  for (const stack = [...needed]; stack.length; ) {
    for (const r of extRequires.get(stack.pop()!) ?? []) {
      if (!needed.has(r)) {
        needed.add(r);
        stack.push(r);
      }
    }
  }
  for (const e of cat.extensions) {
    if (!needed.has(e.oid)) continue;
    // Its schema may be outside the dump (e.g. Supabase's "extensions"): create it if missing.
    const mkSchema = schemaSet.has(e.nspname) || e.nspname === 'public' ? '' : `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(e.nspname)};\n`;
    const node = add(
      { section: 'pre-data', kind: 'EXTENSION', schema: null, name: e.extname, sql: `${mkSchema}CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e.extname)} WITH SCHEMA ${quoteIdent(e.nspname)};\n` },
      key(PG_EXTENSION, e.oid),
    );
    comment(node, `EXTENSION ${quoteIdent(e.extname)}`, PG_EXTENSION, e.oid);
  }
  const extByOid = new Map(cat.extensions.filter((e) => needed.has(e.oid)).map((e) => [e.oid, owner.get(key(PG_EXTENSION, e.oid))!]));
  const isMember = (classid: number, oid: number) => cat.extMembers.has(key(classid, oid));
  for (const [k, extOid] of cat.extMembers) {
    const n = extByOid.get(extOid);
    if (n) owner.set(k, n);
  }

  for (const n of cat.schemas) {
    if (n.nspname === 'public') {
      // Exists in every fresh database; only a changed comment is worth restoring (as pg_dump 15).
      const text = cat.comments.get(`${PG_NAMESPACE}:${n.oid}:0`);
      if (text !== undefined && text !== 'standard public schema') {
        // Everything in public depends on this entry (it stands for the schema): sort it first.
        add({ section: 'pre-data', kind: 'COMMENT', schema: null, name: 'SCHEMA public', sql: `COMMENT ON SCHEMA public IS ${quoteLiteral(text)};\n` }, key(PG_NAMESPACE, n.oid)).priority = 0;
      }
      continue;
    }
    const node = add({ section: 'pre-data', kind: 'SCHEMA', schema: null, name: n.nspname, sql: `CREATE SCHEMA ${quoteIdent(n.nspname)};\n` }, key(PG_NAMESPACE, n.oid));
    comment(node, `SCHEMA ${quoteIdent(n.nspname)}`, PG_NAMESPACE, n.oid);
  }

  // ---- collations, casts, operators, text search, foreign data, event triggers ... (kinds/) ----
  /** Roles the kinds' OWNER / ACL objects name (added to the security pass's roles below). */
  const kindRoles = { owners: new Set<string>(), privileges: new Set<string>() };
  buildKinds(cat.kinds, {
    serverVersionNum: cat.serverVersionNum,
    add: (obj, priority, ...keys) => {
      const node = add(obj, ...keys);
      node.priority = priority;
      return node;
    },
    comment: (node, target, classid, oid, subid) => comment(node as DumpNode, target, classid, oid, subid),
    security: (node, sec) => {
      const n = node as DumpNode;
      const name = `${n.obj.kind} ${n.obj.name}`;
      let ownerNode: DumpNode | undefined;
      if (sec.owner) {
        ownerNode = add({ section: 'post-data', kind: 'OWNER', schema: n.obj.schema, name, sql: sec.owner.sql });
        ownerNode.priority = 90;
        ownerNode.deps.add(n);
        kindRoles.owners.add(sec.owner.role);
      }
      if (sec.acl?.sql) {
        const a = add({ section: 'post-data', kind: 'ACL', schema: n.obj.schema, name, sql: sec.acl.sql });
        a.priority = 91;
        a.deps.add(n);
        if (ownerNode) a.deps.add(ownerNode);
        for (const r of sec.acl.roles) kindRoles.privileges.add(r);
      }
    },
  });
  const foreignTables = new Map(cat.kinds.foreignData.tables.map((t) => [t.relid, foreignTableParts(t)]));

  // ---- types ----
  const domainCons = groupBy(cat.domainConstraints, (c) => c.contypid);
  const colsByRel = groupBy(cat.columns, (c) => c.attrelid);
  for (const t of cat.types) {
    if (isMember(PG_TYPE, t.oid)) continue;
    const q = qualifiedName(t.nspname, t.typname);
    let sql: string;
    let kind = 'TYPE';
    const keys = [key(PG_TYPE, t.oid)];
    if (t.typarray) keys.push(key(PG_TYPE, t.typarray));
    if (t.typtype === 'e') {
      sql = `CREATE TYPE ${q} AS ENUM (${(t.labels ?? []).map((l) => `\n    ${quoteLiteral(l)}`).join(',')}\n);\n`;
    } else if (t.typtype === 'c') {
      keys.push(key(PG_CLASS, t.typrelid));
      const attrs = colsByRel.get(t.typrelid) ?? [];
      sql = `CREATE TYPE ${q} AS (${attrs.map((a) => `\n    ${quoteIdent(a.attname)} ${a.typ}${a.coll ? ` COLLATE ${a.coll}` : ''}`).join(',')}\n);\n`;
    } else if (t.typtype === 'r') {
      if (t.multirange) keys.push(key(PG_TYPE, t.multirange), ...(t.multirangeArray ? [key(PG_TYPE, t.multirangeArray)] : []));
      const parts = [`subtype = ${t.subtype}`];
      if (t.multirangeName) parts.push(`multirange_type_name = ${t.multirangeName}`);
      if (t.subtypeOpclass) parts.push(`subtype_opclass = ${t.subtypeOpclass}`);
      if (t.collation) parts.push(`collation = ${t.collation}`);
      if (t.canonical) parts.push(`canonical = ${t.canonical}`);
      if (t.subdiff) parts.push(`subtype_diff = ${t.subdiff}`);
      sql = `CREATE TYPE ${q} AS RANGE (\n    ${parts.join(',\n    ')}\n);\n`;
    } else {
      kind = 'DOMAIN';
      const cons = domainCons.get(t.oid) ?? [];
      let s = `CREATE DOMAIN ${q} AS ${t.basetype}`;
      if (t.collation) s += ` COLLATE ${t.collation}`;
      if (t.defaultExpr !== null) s += ` DEFAULT ${t.defaultExpr}`;
      if (t.typnotnull && !cons.some((c) => c.contype === 'n')) s += ' NOT NULL';
      const later: string[] = [];
      for (const c of cons) {
        keys.push(key(PG_CONSTRAINT, c.oid));
        if (c.convalidated) s += `\n\tCONSTRAINT ${quoteIdent(c.conname)} ${c.def}`;
        else later.push(`ALTER DOMAIN ${q} ADD CONSTRAINT ${quoteIdent(c.conname)} ${c.def};\n`);
      }
      sql = `${s};\n${later.join('')}`;
    }
    const node = add({ section: 'pre-data', kind, schema: t.nspname, name: t.typname, sql }, ...keys);
    comment(node, `${kind} ${q}`, PG_TYPE, t.oid);
    if (t.typtype === 'c') {
      for (const a of colsByRel.get(t.typrelid) ?? []) comment(node, `COLUMN ${q}.${quoteIdent(a.attname)}`, PG_CLASS, t.typrelid, a.attnum);
    }
    for (const c of domainCons.get(t.oid) ?? []) comment(node, `CONSTRAINT ${quoteIdent(c.conname)} ON DOMAIN ${q}`, PG_CONSTRAINT, c.oid);
  }

  // ---- functions, procedures, aggregates ----
  const aggs = new Map(cat.aggregates.map((a) => [a.aggfnoid, a]));
  for (const f of cat.functions) {
    if (isMember(PG_PROC, f.oid)) continue;
    const sig = `${qualifiedName(f.nspname, f.proname)}(${f.idargs})`;
    let kind: string;
    let sql: string;
    if (f.prokind === 'a') {
      const a = aggs.get(f.oid);
      if (!a) continue;
      kind = 'AGGREGATE';
      sql = aggregateSql(f.nspname, f.proname, a);
    } else {
      kind = f.prokind === 'p' ? 'PROCEDURE' : 'FUNCTION';
      sql = `${f.def!.trimEnd()};\n`;
    }
    const node = add({ section: 'pre-data', kind, schema: f.nspname, name: `${f.proname}(${f.idargs})`, sql }, key(PG_PROC, f.oid));
    comment(node, `${kind} ${sig}`, PG_PROC, f.oid);
  }

  // ---- sequences (stand-alone and serial; identity ones belong to their table) ----
  const seqByOid = new Map(cat.sequences.map((s) => [s.oid, s]));
  const identitySeq = new Map<string, number>(); // "table:attnum" -> seq oid
  const ownedBy = new Map<number, { rel: number; attnum: number }>();
  for (const d of cat.depends) {
    if (d.classid === PG_CLASS && d.refclassid === PG_CLASS && seqByOid.has(d.objid) && d.refobjsubid > 0) {
      if (d.deptype === 'i') identitySeq.set(`${d.refobjid}:${d.refobjsubid}`, d.objid);
      else if (d.deptype === 'a') ownedBy.set(d.objid, { rel: d.refobjid, attnum: d.refobjsubid });
    }
  }
  const identitySeqOids = new Set(identitySeq.values());
  const relByOid = new Map(cat.rels.map((r) => [r.oid, r]));
  const colByKey = new Map(cat.columns.map((c) => [`${c.attrelid}:${c.attnum}`, c]));

  for (const s of cat.sequences) {
    if (isMember(PG_CLASS, s.oid) || identitySeqOids.has(s.oid)) continue;
    const q = qualifiedName(s.nspname, s.relname);
    const unlogged = s.relpersistence === 'u' ? 'UNLOGGED ' : '';
    const sql = `CREATE ${unlogged}SEQUENCE ${q}\n${s.seqtype !== 'bigint' ? `    AS ${s.seqtype}\n` : ''}${sequenceOptions(s, '    ')};\n`;
    const node = add({ section: 'pre-data', kind: 'SEQUENCE', schema: s.nspname, name: s.relname, sql }, key(PG_CLASS, s.oid));
    comment(node, `SEQUENCE ${q}`, PG_CLASS, s.oid);
    const ob = ownedBy.get(s.oid);
    const rel = ob && relByOid.get(ob.rel);
    const col = ob && colByKey.get(`${ob.rel}:${ob.attnum}`);
    if (rel && col && !isMember(PG_CLASS, rel.oid)) {
      const o = add({
        section: 'pre-data',
        kind: 'SEQUENCE OWNED BY',
        schema: s.nspname,
        name: s.relname,
        table: rel.relname,
        sql: `ALTER SEQUENCE ${q} OWNED BY ${qualifiedName(rel.nspname, rel.relname)}.${quoteIdent(col.attname)};\n`,
      });
      o.deps.add(node);
      o.pendingDeps = [key(PG_CLASS, rel.oid)];
    }
  }

  // ---- tables, views, materialized views ----
  const consByRel = groupBy(cat.constraints, (c) => c.conrelid);
  const inlineChecks = new Set<number>();
  /** defaults that must be emitted as separate ALTER ... SET DEFAULT (they reference a sequence or function) */
  const separateDefault = (c: ColumnRow) =>
    c.adoid !== null && (cat.defaultRefs.get(c.adoid) ?? []).some((r) => !isMember(r.classid, r.oid) && (r.classid === PG_PROC || (r.classid === PG_CLASS && seqByOid.has(r.oid))));
  const relNodes = new Map<number, DumpNode>();

  for (const r of cat.rels) {
    if (isMember(PG_CLASS, r.oid) || !['r', 'p', 'v', 'm', 'f'].includes(r.relkind)) continue;
    const q = qualifiedName(r.nspname, r.relname);
    const cols = colsByRel.get(r.oid) ?? [];
    const keys = [key(PG_CLASS, r.oid)];
    if (r.reltype) keys.push(key(PG_TYPE, r.reltype));
    if (r.reltypeArray) keys.push(key(PG_TYPE, r.reltypeArray));
    for (const rw of cat.rules) if (rw.ev_class === r.oid && rw.rulename === '_RETURN') keys.push(key(PG_REWRITE, rw.oid));
    const defaults: { col: ColumnRow; sql: string }[] = [];
    let kind: string;
    let sql: string;

    if (r.relkind === 'v' || r.relkind === 'm') {
      const opts = (r.reloptions ?? []).filter((o) => !o.startsWith('check_option='));
      const check = (r.reloptions ?? []).find((o) => o.startsWith('check_option='));
      const withOpts = opts.length ? ` WITH (${opts.map(relOption).join(', ')})` : '';
      const body = r.viewdef!.trim().replace(/;$/, '');
      if (r.relkind === 'v') {
        kind = 'VIEW';
        sql = `CREATE VIEW ${q}${withOpts} AS\n ${body}${check ? `\n  WITH ${check.slice('check_option='.length).toUpperCase()} CHECK OPTION` : ''};\n`;
      } else {
        kind = 'MATERIALIZED VIEW';
        sql = `CREATE MATERIALIZED VIEW ${q}${r.am ? ` USING ${r.am}` : ''}${withOpts} AS\n ${body}\n  WITH NO DATA;\n`;
      }
      for (const c of cols) {
        if (c.defexpr !== null) defaults.push({ col: c, sql: `ALTER ${kind === 'VIEW' ? 'VIEW' : 'TABLE'} ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET DEFAULT ${c.defexpr};\n` });
      }
    } else {
      // Foreign tables (kinds/foreign-data.ts) and typed tables (`OF type`: columns come from the
      // type, only their options are printed) share the table's column logic.
      const foreign = foreignTables.get(r.oid);
      const typed = r.oftype !== null;
      kind = foreign ? 'FOREIGN TABLE' : 'TABLE';
      const isPartition = r.relispartition;
      const parents = (r.parents ?? []).map((p) => relByOid.get(p)).filter((p): p is RelRow => !!p);
      const lines: string[] = [];
      const after: string[] = [];
      for (const c of cols) {
        // Inheritance children print only their own columns (INHERITS brings the rest); a
        // partition is created stand-alone with all columns and attached afterwards, as pg_dump does.
        const printed = isPartition || c.attislocal;
        if (printed) {
          const bare = `    ${quoteIdent(c.attname)} ${typed ? 'WITH OPTIONS' : c.typ}${foreign ? foreign.columnOptions(c.attname) : ''}`;
          let l = bare;
          if (c.coll && !typed) l += ` COLLATE ${c.coll}`;
          if (c.attgenerated === 's') l += ` GENERATED ALWAYS AS (${c.defexpr}) STORED`;
          else if (c.defexpr !== null && !separateDefault(c) && !(c.attinhcount > 0 && !isPartition)) l += ` DEFAULT ${c.defexpr}`;
          const seq = seqByOid.get(identitySeq.get(`${r.oid}:${c.attnum}`) ?? -1);
          // PostgreSQL 17+: a partition's identity is its parent's (same sequence, none of its own),
          // given by ATTACH PARTITION, which refuses a table with an identity column. So the
          // stand-alone partition gets a plain NOT NULL column. (On 14-16 partitions have no
          // inherited identity; one of their own has its own sequence and is printed in full.)
          const identity = c.attidentity && !(isPartition && !seq) ? c.attidentity : '';
          if (identity) {
            l += ` GENERATED ${identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
            if (seq) {
              l += ` (\n        SEQUENCE NAME ${qualifiedName(seq.nspname, seq.relname)}\n${sequenceOptions(seq, '        ')}\n    )`;
              keys.push(key(PG_CLASS, seq.oid));
            }
          }
          if (c.attnotnull && !identity) l += ' NOT NULL';
          if (!typed || l !== bare) lines.push(l);
        } else if (c.attnotnull && !parents.some((p) => colsByRel.get(p.oid)?.some((pc) => pc.attname === c.attname && pc.attnotnull))) {
          after.push(`ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET NOT NULL;\n`);
        }
        if (c.attgenerated !== 's') {
          const needSeparate = c.defexpr !== null && (separateDefault(c) || (c.attinhcount > 0 && !isPartition));
          if (needSeparate) defaults.push({ col: c, sql: `ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET DEFAULT ${c.defexpr};\n` });
          else if (c.defexpr === null && c.attinhcount > 0 && !isPartition && parents.some((p) => colsByRel.get(p.oid)?.some((pc) => pc.attname === c.attname && pc.defexpr !== null))) {
            // INHERITS copied the parent's default; the source child has none.
            defaults.push({ col: c, sql: `ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} DROP DEFAULT;\n` });
          }
        }
        if (c.attstattarget !== null && c.attstattarget >= 0) after.push(`ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET STATISTICS ${c.attstattarget};\n`);
        if (c.attstorage !== c.typstorage) {
          const st = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' }[c.attstorage];
          if (st) after.push(`ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET STORAGE ${st};\n`);
        }
        const compression = { p: 'pglz', l: 'lz4' }[c.attcompression];
        if (compression) after.push(`ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET COMPRESSION ${compression};\n`);
        // Only the options ALTER COLUMN SET accepts: anything else in attoptions did not come from SQL.
        const attopts = (c.attoptions ?? []).filter((o) => /^n_distinct(_inherited)?=/.test(o));
        if (attopts.length) after.push(`ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET (${attopts.map(relOption).join(', ')});\n`);
      }
      for (const con of consByRel.get(r.oid) ?? []) {
        if (con.contype !== 'c' || !con.convalidated) continue;
        if (!(isPartition || con.conislocal)) continue;
        lines.push(`    CONSTRAINT ${quoteIdent(con.conname)} ${con.def}`);
        inlineChecks.add(con.oid);
        keys.push(key(PG_CONSTRAINT, con.oid));
      }
      const unlogged = r.relpersistence === 'u' ? 'UNLOGGED ' : '';
      const body = lines.length ? ` (\n${lines.join(',\n')}\n)` : typed ? '' : ' ()';
      let s = `CREATE ${unlogged}${foreign ? 'FOREIGN ' : ''}TABLE ${q}${typed ? ` OF ${r.oftype}` : ''}${body}`;
      if (!isPartition && parents.length) s += `\nINHERITS (${parents.map((p) => qualifiedName(p.nspname, p.relname)).join(', ')})`;
      if (r.relkind === 'p') s += `\nPARTITION BY ${r.partkey}`;
      if (r.am) s += `\nUSING ${r.am}`;
      if (foreign) s += foreign.tail;
      if (r.reloptions?.length) s += `\nWITH (${r.reloptions.map(relOption).join(', ')})`;
      s += ';\n';
      if (r.relreplident === 'f') after.push(`ALTER TABLE ONLY ${q} REPLICA IDENTITY FULL;\n`);
      if (r.relreplident === 'n' && !foreign) after.push(`ALTER TABLE ONLY ${q} REPLICA IDENTITY NOTHING;\n`);
      sql = s + after.join('');
    }

    const node = add({ section: 'pre-data', kind, schema: r.nspname, name: r.relname, sql }, ...keys);
    relNodes.set(r.oid, node);
    comment(node, `${kind} ${q}`, PG_CLASS, r.oid);
    for (const c of cols) comment(node, `COLUMN ${q}.${quoteIdent(c.attname)}`, PG_CLASS, r.oid, c.attnum);
    for (const [attkey, seqOid] of identitySeq) {
      if (attkey.startsWith(`${r.oid}:`)) {
        const seq = seqByOid.get(seqOid);
        if (seq) comment(node, `SEQUENCE ${qualifiedName(seq.nspname, seq.relname)}`, PG_CLASS, seqOid);
      }
    }
    for (const d of defaults) {
      add({ section: 'pre-data', kind: 'DEFAULT', schema: r.nspname, name: d.col.attname, table: r.relname, sql: d.sql }, ...(d.col.adoid !== null ? [key(PG_ATTRDEF, d.col.adoid)] : [])).deps.add(node);
    }
    for (const c of cols) {
      if (c.adoid !== null && !owner.has(key(PG_ATTRDEF, c.adoid))) owner.set(key(PG_ATTRDEF, c.adoid), node);
    }

    if (r.relispartition && r.parents?.length) {
      const parent = relByOid.get(r.parents[0]);
      if (parent) {
        const a = add({
          section: 'pre-data',
          kind: 'TABLE ATTACH',
          schema: r.nspname,
          name: r.relname,
          table: parent.relname,
          sql: `ALTER TABLE ONLY ${qualifiedName(parent.nspname, parent.relname)} ATTACH PARTITION ${q} ${r.partbound};\n`,
        });
        a.deps.add(node);
        a.pendingDeps = [key(PG_CLASS, parent.oid)];
      }
    }
    if (r.relkind === 'm' && r.relispopulated) {
      const d = add({ section: 'post-data', kind: 'MATERIALIZED VIEW DATA', schema: r.nspname, name: r.relname, sql: `REFRESH MATERIALIZED VIEW ${q};\n` });
      d.deps.add(node);
      d.matview = node;
    }
  }

  // ---- constraints (post-data, except CHECKs printed inline above) ----
  for (const con of cat.constraints) {
    const r = relByOid.get(con.conrelid);
    const relNode = relNodes.get(con.conrelid);
    if (!r || !relNode || inlineChecks.has(con.oid)) continue;
    if (con.contype === 'c' && !con.conislocal) continue; // inherited: comes with its parent's
    if (con.contype === 'f' && con.conparentid !== 0) continue; // cloned onto partitions by the parent's FK
    const q = qualifiedName(r.nspname, r.relname);
    const only = con.contype === 'f' && r.relkind === 'p' ? '' : con.contype === 'c' ? '' : 'ONLY ';
    const kind = con.contype === 'f' ? 'FK CONSTRAINT' : con.contype === 'c' ? 'CHECK CONSTRAINT' : 'CONSTRAINT';
    const keys = [key(PG_CONSTRAINT, con.oid)];
    if (con.conindid && con.contype !== 'f') keys.push(key(PG_CLASS, con.conindid));
    const node = add(
      { section: 'post-data', kind, schema: r.nspname, name: con.conname, table: r.relname, sql: `ALTER TABLE ${only}${q}\n    ADD CONSTRAINT ${quoteIdent(con.conname)} ${con.def};\n` },
      ...keys,
    );
    node.deps.add(relNode);
    comment(node, `CONSTRAINT ${quoteIdent(con.conname)} ON ${q}`, PG_CONSTRAINT, con.oid);
  }
  for (const con of cat.constraints) {
    // comments on inline CHECKs belong to the table
    if (inlineChecks.has(con.oid)) {
      const r = relByOid.get(con.conrelid)!;
      comment(relNodes.get(con.conrelid)!, `CONSTRAINT ${quoteIdent(con.conname)} ON ${qualifiedName(r.nspname, r.relname)}`, PG_CONSTRAINT, con.oid);
    }
  }

  // ---- indexes ----
  for (const ix of cat.indexes) {
    const r = relByOid.get(ix.indrelid);
    const relNode = relNodes.get(ix.indrelid);
    if (!r || !relNode) continue;
    const q = qualifiedName(ix.nspname, ix.relname);
    const tq = qualifiedName(r.nspname, r.relname);
    let node = owner.get(key(PG_CLASS, ix.oid));
    if (!ix.conoid || !node) {
      let sql = `${ix.def};\n`;
      if (ix.indisclustered) sql += `ALTER TABLE ${tq} CLUSTER ON ${quoteIdent(ix.relname)};\n`;
      node = add({ section: 'post-data', kind: 'INDEX', schema: ix.nspname, name: ix.relname, table: r.relname, sql }, key(PG_CLASS, ix.oid));
      node.deps.add(relNode);
    } else if (ix.indisclustered) {
      node.obj.sql += `ALTER TABLE ${tq} CLUSTER ON ${quoteIdent(ix.relname)};\n`;
    }
    if (ix.indisreplident) node.obj.sql += `ALTER TABLE ONLY ${tq} REPLICA IDENTITY USING INDEX ${quoteIdent(ix.relname)};\n`;
    comment(node, `INDEX ${q}`, PG_CLASS, ix.oid);
  }
  const ixByOid = new Map(cat.indexes.map((i) => [i.oid, i]));
  for (const ix of cat.indexes) {
    const parent = ix.parentidx ? ixByOid.get(ix.parentidx) : undefined;
    const own = owner.get(key(PG_CLASS, ix.oid));
    const pn = parent && owner.get(key(PG_CLASS, parent.oid));
    if (!parent || !own || !pn) continue;
    const a = add({
      section: 'post-data',
      kind: 'INDEX ATTACH',
      schema: ix.nspname,
      name: ix.relname,
      table: relByOid.get(ix.indrelid)?.relname,
      sql: `ALTER INDEX ${qualifiedName(parent.nspname, parent.relname)} ATTACH PARTITION ${qualifiedName(ix.nspname, ix.relname)};\n`,
    });
    a.deps.add(own);
    a.deps.add(pn);
  }

  for (const st of cat.statistics) {
    const r = relByOid.get(st.stxrelid);
    const relNode = relNodes.get(st.stxrelid);
    if (!r || !relNode) continue;
    const q = qualifiedName(st.nspname, st.stxname);
    let sql = `${st.def};\n`;
    if (st.stattarget !== null && st.stattarget >= 0) sql += `ALTER STATISTICS ${q} SET STATISTICS ${st.stattarget};\n`;
    const node = add({ section: 'post-data', kind: 'STATISTICS', schema: st.nspname, name: st.stxname, table: r.relname, sql }, key(PG_STATISTIC_EXT, st.oid));
    node.deps.add(relNode);
    comment(node, `STATISTICS ${q}`, PG_STATISTIC_EXT, st.oid);
  }

  // ---- rules, triggers, RLS, policies ----
  for (const rw of cat.rules) {
    const r = relByOid.get(rw.ev_class);
    const relNode = relNodes.get(rw.ev_class);
    if (rw.rulename === '_RETURN' || !r || !relNode) continue;
    const q = qualifiedName(r.nspname, r.relname);
    let sql = `${rw.def.trim().replace(/;?$/, ';')}\n`;
    if (rw.ev_enabled === 'D') sql += `ALTER TABLE ${q} DISABLE RULE ${quoteIdent(rw.rulename)};\n`;
    const node = add({ section: 'post-data', kind: 'RULE', schema: r.nspname, name: rw.rulename, table: r.relname, sql }, key(PG_REWRITE, rw.oid));
    node.deps.add(relNode);
    comment(node, `RULE ${quoteIdent(rw.rulename)} ON ${q}`, PG_REWRITE, rw.oid);
  }
  for (const tg of cat.triggers) {
    const r = relByOid.get(tg.tgrelid);
    const relNode = relNodes.get(tg.tgrelid);
    if (!r || !relNode) continue;
    const q = qualifiedName(r.nspname, r.relname);
    let sql = `${tg.def};\n`;
    const en = { D: 'DISABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' }[tg.tgenabled];
    if (en) sql += `ALTER TABLE ${q} ${en} TRIGGER ${quoteIdent(tg.tgname)};\n`;
    const node = add({ section: 'post-data', kind: 'TRIGGER', schema: r.nspname, name: tg.tgname, table: r.relname, sql }, key(PG_TRIGGER, tg.oid));
    node.deps.add(relNode);
    comment(node, `TRIGGER ${quoteIdent(tg.tgname)} ON ${q}`, PG_TRIGGER, tg.oid);
  }
  for (const r of cat.rels) {
    const relNode = relNodes.get(r.oid);
    if (!relNode || !(r.relrowsecurity || r.relforcerowsecurity)) continue;
    const q = qualifiedName(r.nspname, r.relname);
    let sql = '';
    if (r.relrowsecurity) sql += `ALTER TABLE ${q} ENABLE ROW LEVEL SECURITY;\n`;
    if (r.relforcerowsecurity) sql += `ALTER TABLE ONLY ${q} FORCE ROW LEVEL SECURITY;\n`;
    add({ section: 'post-data', kind: 'ROW SECURITY', schema: r.nspname, name: r.relname, table: r.relname, sql }).deps.add(relNode);
  }
  for (const p of cat.policies) {
    const r = relByOid.get(p.polrelid);
    const relNode = relNodes.get(p.polrelid);
    if (!r || !relNode) continue;
    const q = qualifiedName(r.nspname, r.relname);
    const cmd = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' }[p.polcmd] ?? 'ALL';
    let sql = `CREATE POLICY ${quoteIdent(p.polname)} ON ${q}${p.polpermissive ? '' : ' AS RESTRICTIVE'} FOR ${cmd}`;
    sql += ` TO ${p.roles ? p.roles.join(', ') : 'PUBLIC'}`;
    if (p.qual !== null) sql += ` USING (${p.qual})`;
    if (p.withcheck !== null) sql += ` WITH CHECK (${p.withcheck})`;
    const node = add({ section: 'post-data', kind: 'POLICY', schema: r.nspname, name: p.polname, table: r.relname, sql: `${sql};\n` }, key(PG_POLICY, p.oid));
    node.deps.add(relNode);
    comment(node, `POLICY ${quoteIdent(p.polname)} ON ${q}`, PG_POLICY, p.oid);
  }

  // ---- dependency edges from pg_depend ----
  const partitionParent = new Map<number, number>();
  for (const r of cat.rels) if (r.relispartition && r.parents?.length) partitionParent.set(r.oid, r.parents[0]);
  for (const d of cat.depends) {
    const from = owner.get(key(d.classid, d.objid));
    const to = owner.get(key(d.refclassid, d.refobjid));
    if (!from || !to || from === to) continue;
    // A partition is created stand-alone; its TABLE ATTACH entry carries the parent dependency.
    if (d.classid === PG_CLASS && d.refclassid === PG_CLASS && partitionParent.get(d.objid) === d.refobjid) continue;
    // A serial sequence's OWNED BY is a separate entry; the sequence itself comes first.
    if (from.obj.kind === 'SEQUENCE' && d.deptype === 'a') continue;
    from.deps.add(to);
  }
  for (const n of nodes) {
    for (const k of n.pendingDeps ?? []) {
      const t = owner.get(k);
      if (t && t !== n) n.deps.add(t);
    }
  }
  const schemaRoles = addSecurityNodes({ add: (obj) => add(obj), nodeFor: (classid, oid) => owner.get(key(classid, oid)), serverVersionNum: cat.serverVersionNum, schemas }, security);
  const roles: DumpRoles = {
    ...schemaRoles,
    owners: [...new Set([...schemaRoles.owners, ...kindRoles.owners])].sort(),
    privileges: [...new Set([...schemaRoles.privileges, ...kindRoles.privileges])].sort(),
  };
  return { objects: orderObjects(nodes, warnings), roles };
}

function tablesToCopy(cat: Catalog, excluded: string[]): TableToCopy[] {
  const ex = new Set(excluded);
  const cols = groupBy(cat.columns, (c) => c.attrelid);
  return cat.rels
    .filter((r) => r.relkind === 'r' && !cat.extMembers.has(key(PG_CLASS, r.oid)))
    .map((r) => ({
      schema: r.nspname,
      name: r.relname,
      oid: r.oid,
      columns: (cols.get(r.oid) ?? []).filter((c) => c.attgenerated !== 's').map((c) => c.attname),
      relpages: r.relpages,
      dataExcluded: ex.has(`${r.nspname}.${r.relname}`),
    }))
    .sort((a, b) => cmp(a.schema, b.schema) || cmp(a.name, b.name));
}

async function readSequenceValues(client: pg.ClientBase, cat: Catalog): Promise<SequenceValue[]> {
  const seqs = cat.sequences.filter((s) => !cat.extMembers.has(key(PG_CLASS, s.oid))).sort((a, b) => cmp(a.nspname, b.nspname) || cmp(a.relname, b.relname));
  if (!seqs.length) return [];
  // A sequence's state is read from the relation itself. One UNION ALL of every sequence would be
  // one round trip, but planning it grows quadratically (5,000 sequences: over two minutes), so
  // batches of SEQUENCES_PER_QUERY.
  const values = new Map<number, { v: string; is_called: boolean }>();
  for (let from = 0; from < seqs.length; from += SEQUENCES_PER_QUERY) {
    const sql = seqs
      .slice(from, from + SEQUENCES_PER_QUERY)
      .map((s, j) => `SELECT ${from + j} AS i, last_value::text AS v, is_called FROM ${qualifiedName(s.nspname, s.relname)}`)
      .join(' UNION ALL ');
    // Inside a savepoint rolled back right after: rolling back a subtransaction releases the
    // locks it took, so the backup does not hold one lock per sequence until it ends (10,000
    // tables with serial ids: 20,000 locks, past stock max_locks_per_transaction; pg_dump fails
    // there). The values are read; the rollback undoes nothing else (read-only).
    // One round trip: the result of the SELECT is the second of the four statements'.
    const results = (await client.query(`SAVEPOINT tickethub_sequences; ${sql}; ROLLBACK TO SAVEPOINT tickethub_sequences; RELEASE SAVEPOINT tickethub_sequences`)) as unknown as pg.QueryResult<{ i: number; v: string; is_called: boolean }>[];
    for (const row of results[1].rows) values.set(row.i, row);
  }
  return seqs.map((s, i) => ({ schema: s.nspname, name: s.relname, lastValue: values.get(i)!.v, isCalled: values.get(i)!.is_called }));
}

/** Sequences read per query (see readSequenceValues). */
const SEQUENCES_PER_QUERY = 100;

function sequenceOptions(
  s: { seqstart: string; seqincrement: string; seqmin: string; seqmax: string; seqcache: string; seqcycle: boolean },
  indent: string,
): string {
  return [
    `START WITH ${s.seqstart}`,
    `INCREMENT BY ${s.seqincrement}`,
    `MINVALUE ${s.seqmin}`,
    `MAXVALUE ${s.seqmax}`,
    `CACHE ${s.seqcache}`,
    ...(s.seqcycle ? ['CYCLE'] : []),
  ]
    .map((l) => indent + l)
    .join('\n');
}

function aggregateSql(nspname: string, proname: string, a: Catalog['aggregates'][number]): string {
  const p: string[] = [`SFUNC = ${a.transfn}`, `STYPE = ${a.transtype}`];
  if (a.transspace) p.push(`SSPACE = ${a.transspace}`);
  if (a.finalfn) p.push(`FINALFUNC = ${a.finalfn}`);
  if (a.finalextra) p.push('FINALFUNC_EXTRA');
  if (a.finalfn && a.finalmodify !== (a.aggkind === 'n' ? 'r' : 'w')) p.push(`FINALFUNC_MODIFY = ${{ r: 'READ_ONLY', s: 'SHAREABLE', w: 'READ_WRITE' }[a.finalmodify]}`);
  if (a.initval !== null) p.push(`INITCOND = ${quoteLiteral(a.initval)}`);
  if (a.combinefn) p.push(`COMBINEFUNC = ${a.combinefn}`);
  if (a.serialfn) p.push(`SERIALFUNC = ${a.serialfn}`);
  if (a.deserialfn) p.push(`DESERIALFUNC = ${a.deserialfn}`);
  if (a.mtransfn) {
    p.push(`MSFUNC = ${a.mtransfn}`, `MINVFUNC = ${a.minvtransfn}`, `MSTYPE = ${a.mtranstype}`);
    if (a.mtransspace) p.push(`MSSPACE = ${a.mtransspace}`);
    if (a.mfinalfn) p.push(`MFINALFUNC = ${a.mfinalfn}`);
    if (a.mfinalextra) p.push('MFINALFUNC_EXTRA');
    if (a.minitval !== null) p.push(`MINITCOND = ${quoteLiteral(a.minitval)}`);
  }
  if (a.sortop) p.push(`SORTOP = ${a.sortop}`);
  if (a.aggkind === 'h') p.push('HYPOTHETICAL');
  if (a.parallel !== 'u') p.push(`PARALLEL = ${{ s: 'SAFE', r: 'RESTRICTED' }[a.parallel]}`);
  return `CREATE AGGREGATE ${qualifiedName(nspname, proname)}(${a.args}) (\n    ${p.join(',\n    ')}\n);\n`;
}

/** reloptions entry `name=value` -> `name='value'` (pg_dump's spelling; values may hold spaces). */
function relOption(o: string): string {
  const i = o.indexOf('=');
  return i < 0 ? o : `${o.slice(0, i)}=${quoteLiteral(o.slice(i + 1))}`;
}

function groupBy<T, K>(xs: T[], f: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = f(x);
    const a = m.get(k);
    if (a) a.push(x);
    else m.set(k, [x]);
  }
  return m;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type { ConstraintRow };
