import { groupBy, type DumpGraph } from '../dump-graph';
import type { DumpNode } from '../order-objects';
import { dollarQuote, qualifiedName, quoteIdent, quoteLiteral } from '../quote-ident';
import type { ColumnRow, ConstraintRow, RelRow } from '../read-catalog';
import { foreignTableParts } from './foreign-data';
import { catalogKey, PG_ATTRDEF, PG_CLASS, PG_COLLATION, PG_CONSTRAINT, PG_PROC, PG_REWRITE, PG_TYPE } from './kind-types';
import { sequenceOptions, type SequenceLinks } from './sequences';
import { searchPathChecks } from '../search-path';

/**
 * Tables (ordinary, partitioned, foreign, typed), views and materialized views, with their
 * columns' defaults, partition attachments and matview refreshes. The post-data kinds hanging off
 * a relation (constraints, indexes, triggers, ...) find its node in the returned `relNodes`.
 */
export interface RelationNodes {
  /** relation oid -> the node that creates it */
  relNodes: Map<number, DumpNode>;
  /** CHECK constraints printed inside their CREATE TABLE (no entry of their own). */
  inlineChecks: Set<number>;
}

/** A dumped relation, for the kinds that hang off it: its row, its node, its qualified name. */
export interface DumpedRelation { r: RelRow; node: DumpNode; q: string }

/** The relation `relid` when the dump creates it (else its constraints, indexes, ... are skipped too). */
export function dumpedRelation(g: DumpGraph, rels: RelationNodes, relid: number): DumpedRelation | undefined {
  const r = g.relByOid.get(relid);
  const node = rels.relNodes.get(relid);
  return r && node ? { r, node, q: qualifiedName(r.nspname, r.relname) } : undefined;
}

/**
 * Adds a post-data entry of a relation (a constraint, index, trigger, ...) creating catalog object
 * (classid, oid) and `extraKeys`: it runs after the relation and carries the object's comment.
 */
export function addRelationEntry(
  g: DumpGraph,
  rel: DumpedRelation,
  e: { kind: string; schema: string; name: string; sql: string; classid: number; oid: number; commentTarget: string; extraKeys?: string[] },
): DumpNode {
  const node = g.add({ section: 'post-data', kind: e.kind, schema: e.schema, name: e.name, table: rel.r.relname, sql: e.sql }, catalogKey(e.classid, e.oid), ...(e.extraKeys ?? []));
  node.deps.add(rel.node);
  g.comment(node, e.commentTarget, e.classid, e.oid);
  return node;
}

/** A default printed as its own ALTER ... SET/DROP DEFAULT entry. */
interface SeparateDefault { col: ColumnRow; sql: string }

/** What generating one relation's SQL needs besides the relation. */
interface RelationContext {
  g: DumpGraph;
  links: SequenceLinks;
  foreignTables: Map<number, ReturnType<typeof foreignTableParts>>;
  consByRel: Map<number, ConstraintRow[]>;
  inlineChecks: Set<number>;
  /** CHECK constraints calling a routine whose SQL-standard body reads a relation: never inline (see checksCallingSqlBodies); and afterDataChecks. */
  separateChecks: Set<number>;
  /** CHECK constraints calling a dumped routine that is not IMMUTABLE (see checksCallingNonImmutable). */
  afterDataChecks: Set<number>;
}

/**
 * CHECK constraints that call a dumped routine with a SQL-standard body (BEGIN ATOMIC) that reads
 * a relation. Such a body is parsed at CREATE FUNCTION, so the routine comes after the relations it
 * reads; a CHECK calling it inside CREATE TABLE of one of them is a dependency loop that no order
 * resolves. They are added after the data instead (post-data), as pg_dump does when it breaks such a loop.
 * (A domain's such CHECK is added after the domain's users instead: types.ts.)
 */
export function checksCallingSqlBodies(g: DumpGraph): Set<number> {
  const readsRelation = new Set<number>();
  for (const d of g.cat.depends) if (d.classid === PG_PROC && d.refclassid === PG_CLASS && d.deptype === 'n' && !g.isMember(PG_PROC, d.objid)) readsRelation.add(d.objid);
  const out = new Set<number>();
  for (const d of g.cat.depends) if (d.classid === PG_CONSTRAINT && d.refclassid === PG_PROC && readsRelation.has(d.refobjid)) out.add(d.objid);
  return out;
}

/**
 * Table CHECK constraints calling a dumped routine that is not IMMUTABLE: such a routine may read
 * other tables (`CHECK (trip_exists(trip_id))`), and a CHECK inside CREATE TABLE runs on every row
 * COPY loads — before the table it reads has its rows, when that table loads later: the restore
 * failed where the source had no bad row (pg_dump's fails alike). They are added after the data
 * (post-data; ADD CONSTRAINT checks every row then, once). A CHECK both inherited and local stays
 * where it was (merging the two after the data is another matter).
 */
export function checksCallingNonImmutable(g: DumpGraph): Set<number> {
  return callingNonImmutable(g, g.cat.constraints.filter((c) => c.contype === 'c' && c.convalidated && !(c.conislocal && c.coninhcount > 0)).map((c) => c.oid));
}

/** Of the constraints `oids`, those that call (pg_depend) a dumped routine that is not IMMUTABLE, or any routine that binds names through the search_path. */
export function callingNonImmutable(g: DumpGraph, oids: number[]): Set<number> {
  const notImmutable = new Set(g.cat.functions.filter((f) => f.provolatile !== 'i' && !g.isMember(PG_PROC, f.oid)).map((f) => f.oid));
  const candidates = new Set(oids);
  const out = new Set<number>();
  for (const d of g.cat.depends) if (d.classid === PG_CONSTRAINT && d.refclassid === PG_PROC && candidates.has(d.objid) && notImmutable.has(d.refobjid)) out.add(d.objid);
  // Or one that finds its objects through the search_path (search-path.ts): validated after the
  // data with the source's search_path, not under the archive's '' for every COPY row.
  for (const oid of searchPathChecks(g)) if (candidates.has(oid)) out.add(oid);
  return out;
}

export function buildRelations(g: DumpGraph, links: SequenceLinks): RelationNodes {
  const out: RelationNodes = { relNodes: new Map(), inlineChecks: new Set() };
  const ctx: RelationContext = {
    g,
    links,
    foreignTables: new Map(g.cat.kinds.foreignData.tables.map((t) => [t.relid, foreignTableParts(t)])),
    consByRel: groupBy(g.cat.constraints, (c) => c.conrelid),
    inlineChecks: out.inlineChecks,
    separateChecks: checksCallingSqlBodies(g),
    afterDataChecks: checksCallingNonImmutable(g),
  };
  for (const c of ctx.afterDataChecks) ctx.separateChecks.add(c);
  for (const r of g.cat.rels) {
    if (g.isMember(PG_CLASS, r.oid) || !['r', 'p', 'v', 'm', 'f'].includes(r.relkind)) continue;
    const q = qualifiedName(r.nspname, r.relname);
    const cols = g.colsByRel.get(r.oid) ?? [];
    const keys = [catalogKey(PG_CLASS, r.oid)];
    if (r.reltype) keys.push(catalogKey(PG_TYPE, r.reltype));
    if (r.reltypeArray) keys.push(catalogKey(PG_TYPE, r.reltypeArray));
    for (const rw of g.cat.rules) if (rw.ev_class === r.oid && rw.rulename === '_RETURN') keys.push(catalogKey(PG_REWRITE, rw.oid));
    const defaults: SeparateDefault[] = [];
    const { kind, sql } = r.relkind === 'v' || r.relkind === 'm' ? viewSql(r, q, cols, defaults) : tableSql(ctx, r, q, cols, keys, defaults);
    const node = g.add({ section: 'pre-data', kind, schema: r.nspname, name: r.relname, sql }, ...keys);
    if (kind === 'VIEW') node.breakLoop = () => splitView(g, node, r, q, cols);
    out.relNodes.set(r.oid, node);
    addRelationEntries(ctx, r, q, node, cols, defaults);
  }
  return out;
}

function viewSql(r: RelRow, q: string, cols: ColumnRow[], defaults: SeparateDefault[]): { kind: string; sql: string } {
  // `WITH [LOCAL|CASCADED] CHECK OPTION` appends check_option to the view's options. When the
  // source has it elsewhere (`WITH (check_option = local, security_barrier = true)`), it stays in
  // the option list, in place: the restored reloptions are then the source's, in the same order.
  const all = r.reloptions ?? [];
  const checkLast = all.length > 0 && all[all.length - 1].startsWith('check_option=');
  const opts = checkLast ? all.slice(0, -1) : all;
  const check = checkLast ? all[all.length - 1] : undefined;
  const withOpts = opts.length || r.toastoptions?.length ? ` WITH (${storageOptions(opts, r.toastoptions)})` : '';
  const body = r.viewdef!.trim().replace(/;$/, '');
  let kind: string;
  let sql: string;
  if (r.relkind === 'v') {
    kind = 'VIEW';
    sql = `CREATE VIEW ${q}${withOpts} AS\n ${body}${check ? `\n  WITH ${check.slice('check_option='.length).toUpperCase()} CHECK OPTION` : ''};\n`;
  } else {
    kind = 'MATERIALIZED VIEW';
    sql = `CREATE MATERIALIZED VIEW ${q}${r.am ? ` USING ${r.am}` : ''}${withOpts} AS\n ${body}\n  WITH NO DATA;\n`;
    // Its columns' statistics targets, storage, compression and n_distinct (lost before: the drill
    // then failed on every backup of such a database, or, for compression, passed).
    for (const c of cols) sql += columnAlters(`ALTER MATERIALIZED VIEW ${q}`, c).join('');
  }
  for (const c of cols) {
    if (c.defexpr !== null) defaults.push({ col: c, sql: `ALTER ${kind === 'VIEW' ? 'VIEW' : 'TABLE'} ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET DEFAULT ${c.defexpr};\n` });
  }
  return { kind, sql };
}

/**
 * A view in a dependency loop (it calls a routine whose SQL-standard body reads the view): as
 * pg_dump, a placeholder view with the same columns (`SELECT NULL::type AS col, ...`) first, which
 * the routine and the view's other users can be created against, then `CREATE OR REPLACE VIEW`
 * with the real definition (a 'RULE' entry, pg_dump's name for it) once the routine exists.
 */
function splitView(g: DumpGraph, node: DumpNode, r: RelRow, q: string, cols: ColumnRow[]): DumpNode {
  const real = node.obj.sql;
  const list = cols.map((c) => `NULL::${c.typ}${c.coll ? ` COLLATE ${c.coll}` : ''} AS ${quoteIdent(c.attname)}`);
  node.obj.sql = `CREATE VIEW ${q} AS\n SELECT ${list.join(',\n    ')};\n`;
  const rest = g.add({ section: 'pre-data', kind: 'RULE', schema: r.nspname, name: '_RETURN', table: r.relname, sql: real.replace(/^CREATE VIEW /, 'CREATE OR REPLACE VIEW ') });
  for (const c of cols) {
    for (const d of [g.nodeFor(PG_TYPE, c.atttypid), g.nodeFor(PG_COLLATION, c.attcollation)]) if (d && d !== node) node.deps.add(d);
  }
  return rest;
}

/**
 * CREATE TABLE and the ALTERs that follow it. Foreign tables (foreign-data.ts) and typed tables
 * (`OF type`: columns come from the type, only their options are printed) share the table's
 * column logic.
 */
function tableSql(ctx: RelationContext, r: RelRow, q: string, cols: ColumnRow[], keys: string[], defaults: SeparateDefault[]): { kind: string; sql: string } {
  const { g } = ctx;
  const foreign = ctx.foreignTables.get(r.oid);
  const typed = r.oftype !== null;
  const isPartition = r.relispartition;
  const parents = (r.parents ?? []).map((p) => g.relByOid.get(p)).filter((p): p is RelRow => !!p);
  const parentHas = (c: ColumnRow, f: (pc: ColumnRow) => boolean) => parents.some((p) => g.colsByRel.get(p.oid)?.some((pc) => pc.attname === c.attname && f(pc)));
  const lines: string[] = [];
  const after: string[] = [];
  for (const c of cols) {
    // Inheritance children print only their own columns (INHERITS brings the rest); a
    // partition is created stand-alone with all columns and attached afterwards, as pg_dump does.
    if (isPartition || c.attislocal) {
      const l = columnLine(ctx, r, c, keys, foreign?.columnOptions(c.attname) ?? '');
      if (l !== null) lines.push(l);
    } else if (c.attnotnull && !parentHas(c, (pc) => pc.attnotnull)) {
      after.push(`ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET NOT NULL;\n`);
    }
    if (c.attgenerated !== 's') {
      const needSeparate = c.defexpr !== null && (separateDefault(g, c) || (c.attinhcount > 0 && !isPartition));
      if (needSeparate) defaults.push({ col: c, sql: `ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} SET DEFAULT ${c.defexpr};\n` });
      else if (c.defexpr === null && c.attinhcount > 0 && !isPartition && parentHas(c, (pc) => pc.defexpr !== null)) {
        // INHERITS copied the parent's default; the source child has none.
        defaults.push({ col: c, sql: `ALTER TABLE ONLY ${q} ALTER COLUMN ${quoteIdent(c.attname)} DROP DEFAULT;\n` });
      }
    }
    after.push(...columnAlters(`ALTER TABLE ONLY ${q}`, c));
  }
  for (const con of ctx.consByRel.get(r.oid) ?? []) {
    if (con.contype !== 'c' || !con.convalidated) continue;
    if (!(isPartition || con.conislocal)) continue;
    // A partition is created with its parent's CHECKs (ATTACH requires them), except one its
    // parent adds after the data (afterDataChecks): that parent's ADD CONSTRAINT brings it then.
    if (ctx.separateChecks.has(con.oid) && (!isPartition || (ctx.afterDataChecks.has(con.oid) && (con.conislocal || parents.length === (r.parents ?? []).length)))) continue;
    lines.push(`    CONSTRAINT ${quoteIdent(con.conname)} ${con.def}`);
    ctx.inlineChecks.add(con.oid);
    keys.push(catalogKey(PG_CONSTRAINT, con.oid));
  }
  const unlogged = r.relpersistence === 'u' ? 'UNLOGGED ' : '';
  const body = lines.length ? ` (\n${lines.join(',\n')}\n)` : typed ? '' : ' ()';
  let s = `CREATE ${unlogged}${foreign ? 'FOREIGN ' : ''}TABLE ${q}${typed ? ` OF ${r.oftype}` : ''}${body}`;
  // A parent outside the dumped schemas keeps its name (a dependency the restore checks for).
  if (!isPartition && r.parentNames?.length) {
    if (inheritsLater(ctx, r, cols, parents)) after.push(...r.parentNames.map((p) => `ALTER TABLE ONLY ${q} INHERIT ${p};\n`));
    else s += `\nINHERITS (${r.parentNames.join(', ')})`;
  }
  if (r.relkind === 'p') s += `\nPARTITION BY ${r.partkey}`;
  if (r.am) s += `\nUSING ${r.am}`;
  if (foreign) s += foreign.tail;
  if (r.reloptions?.length || r.toastoptions?.length) s += `\nWITH (${storageOptions(r.reloptions, r.toastoptions)})`;
  s += ';\n';
  if (r.relreplident === 'f') after.push(`ALTER TABLE ONLY ${q} REPLICA IDENTITY FULL;\n`);
  if (r.relreplident === 'n' && !foreign) after.push(`ALTER TABLE ONLY ${q} REPLICA IDENTITY NOTHING;\n`);
  return { kind: foreign ? 'FOREIGN TABLE' : 'TABLE', sql: s + after.join('') };
}

/**
 * A child made by ALTER TABLE ... INHERIT (every column and inherited CHECK its own) whose column
 * order is not what CREATE TABLE ... INHERITS gives (the parents' columns first, then its own):
 * created stand-alone with its columns in order, then ALTER TABLE ONLY ... INHERIT each parent,
 * which keeps every column and CHECK local as in the source (pg_dump -s prints it alike). Before,
 * the restored child had another column order (SELECT *, INSERT without a column list changed).
 * Only when every parent is dumped and every inherited CHECK is created with the table (ALTER
 * TABLE INHERIT needs them); otherwise INHERITS, as pg_dump.
 */
function inheritsLater(ctx: RelationContext, r: RelRow, cols: ColumnRow[], parents: RelRow[]): boolean {
  if (r.oftype !== null || ctx.foreignTables.has(r.oid) || parents.length !== (r.parents ?? []).length) return false;
  if (!cols.every((c) => c.attislocal)) return false;
  const inherited = (ctx.consByRel.get(r.oid) ?? []).filter((c) => c.coninhcount > 0);
  if (!inherited.every((c) => c.contype === 'c' && c.conislocal && c.convalidated && !ctx.separateChecks.has(c.oid))) return false;
  const order: string[] = [];
  for (const p of parents) for (const pc of ctx.g.colsByRel.get(p.oid) ?? []) if (!order.includes(pc.attname)) order.push(pc.attname);
  for (const c of cols) if (!order.includes(c.attname)) order.push(c.attname);
  return order.join('\u0000') !== cols.map((c) => c.attname).join('\u0000');
}

/**
 * One column's line in CREATE TABLE (null: a typed table's column with nothing to add). An
 * identity column's sequence is created by this line: its key joins `keys`.
 */
function columnLine(ctx: RelationContext, r: RelRow, c: ColumnRow, keys: string[], foreignOptions: string): string | null {
  const { g } = ctx;
  const typed = r.oftype !== null;
  const isPartition = r.relispartition;
  const bare = `    ${quoteIdent(c.attname)} ${typed ? 'WITH OPTIONS' : c.typ}${foreignOptions}`;
  let l = bare;
  if (c.coll && !typed) l += ` COLLATE ${c.coll}`;
  if (c.attgenerated === 's') l += ` GENERATED ALWAYS AS (${c.defexpr}) STORED`;
  else if (c.defexpr !== null && !separateDefault(g, c) && !(c.attinhcount > 0 && !isPartition)) l += ` DEFAULT ${c.defexpr}`;
  const seq = g.seqByOid.get(ctx.links.identitySeq.get(`${r.oid}:${c.attnum}`) ?? -1);
  // PostgreSQL 17+: a partition's identity is its parent's (same sequence, none of its own),
  // given by ATTACH PARTITION, which refuses a table with an identity column. So the
  // stand-alone partition gets a plain NOT NULL column. (On 14-16 partitions have no
  // inherited identity; one of their own has its own sequence and is printed in full.)
  const identity = c.attidentity && !(isPartition && !seq) ? c.attidentity : '';
  if (identity) {
    l += ` GENERATED ${identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
    if (seq) {
      l += ` (\n        SEQUENCE NAME ${qualifiedName(seq.nspname, seq.relname)}\n${sequenceOptions(seq, '        ')}\n    )`;
      keys.push(catalogKey(PG_CLASS, seq.oid));
    }
  }
  if (c.attnotnull && !identity) l += ' NOT NULL';
  return !typed || l !== bare ? l : null;
}

/** A column's settings beyond CREATE TABLE (`target`: `ALTER TABLE ONLY t` / `ALTER MATERIALIZED VIEW m`): statistics target, storage, compression, options. */
function columnAlters(target: string, c: ColumnRow): string[] {
  const alter = `${target} ALTER COLUMN ${quoteIdent(c.attname)}`;
  const out: string[] = [];
  if (c.attstattarget !== null && c.attstattarget >= 0) out.push(`${alter} SET STATISTICS ${c.attstattarget};\n`);
  if (c.attstorage !== c.typstorage) {
    const st = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' }[c.attstorage];
    if (st) out.push(`${alter} SET STORAGE ${st};\n`);
  }
  const compression = { p: 'pglz', l: 'lz4' }[c.attcompression];
  if (compression) out.push(`${alter} SET COMPRESSION ${compression};\n`);
  // Only the options ALTER COLUMN SET accepts: anything else in attoptions did not come from SQL.
  const attopts = (c.attoptions ?? []).filter((o) => /^n_distinct(_inherited)?=/.test(o));
  if (attopts.length) out.push(`${alter} SET (${attopts.map(relOption).join(', ')});\n`);
  return out;
}

/** Comments, separate defaults, the partition's TABLE ATTACH and the matview's REFRESH, after the relation's node. */
function addRelationEntries(ctx: RelationContext, r: RelRow, q: string, node: DumpNode, cols: ColumnRow[], defaults: SeparateDefault[]): void {
  const { g } = ctx;
  g.comment(node, `${node.obj.kind} ${q}`, PG_CLASS, r.oid);
  for (const c of cols) g.comment(node, `COLUMN ${q}.${quoteIdent(c.attname)}`, PG_CLASS, r.oid, c.attnum);
  for (const [attkey, seqOid] of ctx.links.identitySeq) {
    if (attkey.startsWith(`${r.oid}:`)) {
      const seq = g.seqByOid.get(seqOid);
      if (seq) g.comment(node, `SEQUENCE ${qualifiedName(seq.nspname, seq.relname)}`, PG_CLASS, seqOid);
    }
  }
  for (const d of defaults) {
    g.add({ section: 'pre-data', kind: 'DEFAULT', schema: r.nspname, name: d.col.attname, table: r.relname, sql: d.sql }, ...(d.col.adoid !== null ? [catalogKey(PG_ATTRDEF, d.col.adoid)] : [])).deps.add(node);
  }
  for (const c of cols) {
    if (c.adoid !== null && !g.owner.has(catalogKey(PG_ATTRDEF, c.adoid))) g.owner.set(catalogKey(PG_ATTRDEF, c.adoid), node);
  }
  if (r.relispartition && r.parents?.length && r.parentNames?.length) {
    // The parent may be outside the dumped schemas (then a dependency the restore checks for).
    const parent = g.relByOid.get(r.parents[0]);
    const a = g.add({
      section: 'pre-data',
      kind: 'TABLE ATTACH',
      schema: r.nspname,
      name: r.relname,
      table: parent?.relname ?? r.parentNames[0],
      sql: `ALTER TABLE ONLY ${r.parentNames[0]} ATTACH PARTITION ${q} ${r.partbound};\n`,
    });
    a.deps.add(node);
    a.pendingDeps = [catalogKey(PG_CLASS, r.parents[0])];
  }
  if (r.relkind === 'm' && r.relispopulated) {
    const d = g.add({ section: 'post-data', kind: 'MATERIALIZED VIEW DATA', schema: r.nspname, name: r.relname, sql: refreshSql(q) });
    d.deps.add(node);
    d.matview = node;
  }
}

/** A default that references a sequence or function is emitted as its own ALTER ... SET DEFAULT. */
function separateDefault(g: DumpGraph, c: ColumnRow): boolean {
  return c.adoid !== null && (g.cat.defaultRefs.get(c.adoid) ?? []).some((r) => !g.isMember(r.classid, r.oid) && (r.classid === PG_PROC || (r.classid === PG_CLASS && g.seqByOid.has(r.oid))));
}

/** The relation's storage parameters, then its TOAST table's as `toast.name` (as pg_dump prints them). */
function storageOptions(own: string[] | null, toast: string[] | null): string {
  return [...(own ?? []).map(relOption), ...(toast ?? []).map((o) => `toast.${relOption(o)}`)].join(', ');
}

/** reloptions entry `name=value` -> `name='value'` (pg_dump's spelling; values may hold spaces). */
export function relOption(o: string): string {
  const i = o.indexOf('=');
  return i < 0 ? o : `${o.slice(0, i)}=${quoteLiteral(o.slice(i + 1))}`;
}

/**
 * A populated materialized view's REFRESH. REFRESH runs its query with the OWNER's privileges: a
 * view that was filled by a superuser and then given to a role that may not read what it selects
 * cannot be refreshed, in the source database either. A plain REFRESH made every restore of such a
 * backup fail (ours rolled back; `gunzip | psql` stopped halfway). The view is left unpopulated
 * instead, with a WARNING that names it and the cause; the restore reports it (and a drill fails
 * on it: the source had rows there). Any other error still fails the restore.
 */
export function refreshSql(q: string): string {
  const body = `
BEGIN
  REFRESH MATERIALIZED VIEW ${q};
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'materialized view % left unpopulated: %', ${quoteLiteral(q)}, SQLERRM
    USING HINT = ${quoteLiteral(UNPOPULATED_HINT)};
END
`;
  return `DO ${dollarQuote(body)};\n`;
}

export const UNPOPULATED_HINT = 'its owner may not read what it selects, so REFRESH fails in the source database too: grant that, then run REFRESH MATERIALIZED VIEW';
