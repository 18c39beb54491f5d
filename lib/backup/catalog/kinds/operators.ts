import { qualifiedName, quoteIdent } from '../quote-ident';
import { catalogKey, notExtensionMember, PG_AMOP, PG_AMPROC, PG_OPCLASS, PG_OPERATOR, PG_OPFAMILY, type KindBuilder, type KindNode } from './kind-types';
import { ownerStatement } from '../acl';

/** Operators, operator families and operator classes created in the dumped schemas. */
export interface OperatorRow {
  oid: number; nspname: string; oprname: string; owner: string; fn: string; left: string | null; right: string | null;
  commutator: string | null; negator: string | null; comOid: number; negOid: number; merges: boolean; hashes: boolean; restrict: string | null; join: string | null;
}
export interface OpFamilyRow { oid: number; nspname: string; name: string; am: string; owner: string }
export interface OpClassRow { oid: number; nspname: string; name: string; am: string; owner: string; type: string; isDefault: boolean; family: string; familyOid: number; storage: string | null }
/** An operator or support function of a family (amop/amproc): owned by its class, or loose in its family. */
export interface OpMemberRow { oid: number; classid: number; ownerClass: number; ownerOid: number; text: string; num: number }
export interface OperatorRows { operators: OperatorRow[]; families: OpFamilyRow[]; classes: OpClassRow[]; members: OpMemberRow[] }

const opRef = (col: string) =>
  `CASE WHEN ${col} <> 0 THEN (SELECT 'OPERATOR(' || pg_catalog.quote_ident(xn.nspname) || '.' || x.oprname || ')'
     FROM pg_catalog.pg_operator x JOIN pg_catalog.pg_namespace xn ON xn.oid = x.oprnamespace WHERE x.oid = ${col}) END`;
const proc = (col: string) => `CASE WHEN ${col} <> 0 THEN ${col}::pg_catalog.regproc::text END`;

const FAMILY_AND_CLASS_OIDS = `SELECT f.oid FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace
    WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_catalog.pg_opfamily', 'f.oid')}
   UNION ALL SELECT c.oid FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace
    WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_catalog.pg_opclass', 'c.oid')}`;

/** Rows of these kinds ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const OPERATORS_SQL = `SELECT o.oid::int AS oid, n.nspname, o.oprname, pg_catalog.pg_get_userbyid(o.oprowner) AS owner, o.oprcode::pg_catalog.regproc::text AS fn,
            CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END AS left,
            CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END AS right,
            ${opRef('o.oprcom')} AS commutator, ${opRef('o.oprnegate')} AS negator, o.oprcom::int AS "comOid", o.oprnegate::int AS "negOid", o.oprcanmerge AS merges, o.oprcanhash AS hashes,
            ${proc('o.oprrest')} AS restrict, ${proc('o.oprjoin')} AS join
       FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
      WHERE n.nspname = ANY($1::text[]) AND o.oprcode <> 0 AND ${notExtensionMember('pg_catalog.pg_operator', 'o.oid')}
      ORDER BY n.nspname, o.oprname, 6, 7`;

export const OPFAMILIES_SQL = `SELECT f.oid::int AS oid, n.nspname, f.opfname AS name, a.amname AS am, pg_catalog.pg_get_userbyid(f.opfowner) AS owner
       FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod
      WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_catalog.pg_opfamily', 'f.oid')}
      ORDER BY n.nspname, f.opfname, a.amname`;

export const OPCLASSES_SQL = `SELECT c.oid::int AS oid, n.nspname, c.opcname AS name, a.amname AS am, pg_catalog.pg_get_userbyid(c.opcowner) AS owner,
            pg_catalog.format_type(c.opcintype, NULL) AS type, c.opcdefault AS "isDefault",
            pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.opfname) AS family, f.oid::int AS "familyOid",
            CASE WHEN c.opckeytype <> 0 THEN pg_catalog.format_type(c.opckeytype, NULL) END AS storage
       FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod
       JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace
      WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_catalog.pg_opclass', 'c.oid')}
      ORDER BY n.nspname, c.opcname, a.amname`;

export const OPMEMBERS_SQL = `SELECT o.oid::int AS oid, ${PG_AMOP} AS classid, d.refclassid::int AS "ownerClass", d.refobjid::int AS "ownerOid", o.amopstrategy::int AS num,
                'OPERATOR ' || o.amopstrategy || ' ' || o.amopopr::pg_catalog.regoperator::text
                  || CASE WHEN o.amoppurpose = 'o' THEN ' FOR ORDER BY ' || pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(sf.opfname) ELSE '' END AS text
           FROM pg_catalog.pg_amop o JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = o.oid
                AND d.refclassid IN ('pg_catalog.pg_opclass'::pg_catalog.regclass, 'pg_catalog.pg_opfamily'::pg_catalog.regclass) AND d.deptype IN ('a', 'i')
           LEFT JOIN pg_catalog.pg_opfamily sf ON sf.oid = o.amopsortfamily LEFT JOIN pg_catalog.pg_namespace sn ON sn.oid = sf.opfnamespace
          WHERE d.refobjid IN (${FAMILY_AND_CLASS_OIDS})
         UNION ALL
         SELECT p.oid::int, ${PG_AMPROC}, d.refclassid::int, d.refobjid::int, 1000 + p.amprocnum,
                'FUNCTION ' || p.amprocnum || ' (' || pg_catalog.format_type(p.amproclefttype, NULL) || ', '
                  || pg_catalog.format_type(p.amprocrighttype, NULL) || ') ' || p.amproc::pg_catalog.regprocedure::text
           FROM pg_catalog.pg_amproc p JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = p.oid
                AND d.refclassid IN ('pg_catalog.pg_opclass'::pg_catalog.regclass, 'pg_catalog.pg_opfamily'::pg_catalog.regclass) AND d.deptype IN ('a', 'i')
          WHERE d.refobjid IN (${FAMILY_AND_CLASS_OIDS})
          ORDER BY 3, 4, 5, 6`;

export function operatorsOids(r: OperatorRows): number[] {
  return [...r.operators, ...r.families, ...r.classes, ...r.members].map((x) => x.oid);
}

/**
 * A one-way COMMUTATOR / NEGATOR link (A names B, B does not name A) is what PostgreSQL 17 leaves
 * when A is defined first, naming B before it exists (B is made a shell, then filled without the
 * link back): restored with B first, A's CREATE gives B the link back, and the drill found B
 * changed. So B is created after A, as in the source. Mutual links need no order; a pair linked
 * one way in each direction (commutator one way, negator the other) keeps the first edge only.
 */
function orderOneWayLinks(ops: OperatorRow[], nodes: Map<number, KindNode>, b: KindBuilder): void {
  const byOid = new Map(ops.map((o) => [o.oid, o]));
  const edges = new Set<string>();
  for (const a of ops) {
    for (const [to, back] of [[a.comOid, 'comOid'], [a.negOid, 'negOid']] as const) {
      const other = byOid.get(to);
      if (!other || other.oid === a.oid || other[back] === a.oid || edges.has(`${other.oid}>${a.oid}`)) continue;
      edges.add(`${a.oid}>${other.oid}`);
      b.after(nodes.get(other.oid)!, nodes.get(a.oid)!);
    }
  }
}

function operatorSql(o: OperatorRow): string {
  const p = [`FUNCTION = ${o.fn}`];
  if (o.left) p.push(`LEFTARG = ${o.left}`);
  if (o.right) p.push(`RIGHTARG = ${o.right}`);
  if (o.commutator) p.push(`COMMUTATOR = ${o.commutator}`);
  if (o.negator) p.push(`NEGATOR = ${o.negator}`);
  if (o.merges) p.push('MERGES');
  if (o.hashes) p.push('HASHES');
  if (o.restrict) p.push(`RESTRICT = ${o.restrict}`);
  if (o.join) p.push(`JOIN = ${o.join}`);
  return `CREATE OPERATOR ${quoteIdent(o.nspname)}.${o.oprname} (\n    ${p.join(',\n    ')}\n);\n`;
}

export function buildOperators(r: OperatorRows, b: KindBuilder): void {
  const nodes = new Map<number, KindNode>();
  for (const o of r.operators) {
    const sig = `${quoteIdent(o.nspname)}.${o.oprname} (${o.left ?? 'NONE'}, ${o.right ?? 'NONE'})`;
    const node = b.add({ section: 'pre-data', kind: 'OPERATOR', schema: o.nspname, name: `${o.oprname}(${o.left ?? 'NONE'}, ${o.right ?? 'NONE'})`, sql: operatorSql(o) }, 11, catalogKey(PG_OPERATOR, o.oid));
    nodes.set(o.oid, node);
    b.security(node, { owner: { sql: ownerStatement('OPERATOR', sig, o.owner), role: o.owner } });
    b.comment(node, `OPERATOR ${sig}`, PG_OPERATOR, o.oid);
  }
  orderOneWayLinks(r.operators, nodes, b);
  const membersOf = (classid: number, oid: number) => r.members.filter((m) => m.ownerClass === classid && m.ownerOid === oid);
  const memberKeys = (ms: OpMemberRow[]) => ms.map((m) => catalogKey(m.classid, m.oid));
  for (const f of r.families) {
    const q = `${qualifiedName(f.nspname, f.name)} USING ${quoteIdent(f.am)}`;
    const loose = membersOf(PG_OPFAMILY, f.oid);
    let sql = `CREATE OPERATOR FAMILY ${q};\n`;
    if (loose.length) sql += `ALTER OPERATOR FAMILY ${q} ADD\n    ${loose.map((m) => m.text).join(',\n    ')};\n`;
    const node = b.add({ section: 'pre-data', kind: 'OPERATOR FAMILY', schema: f.nspname, name: f.name, sql }, 12, catalogKey(PG_OPFAMILY, f.oid), ...memberKeys(loose));
    b.security(node, { owner: { sql: ownerStatement('OPERATOR FAMILY', q, f.owner), role: f.owner } });
    b.comment(node, `OPERATOR FAMILY ${q}`, PG_OPFAMILY, f.oid);
  }
  for (const c of r.classes) {
    const q = qualifiedName(c.nspname, c.name);
    const items = [...(c.storage ? [`STORAGE ${c.storage}`] : []), ...membersOf(PG_OPCLASS, c.oid).map((m) => m.text)];
    // A class needs at least one item; a class whose members all live loose in the family gets its storage type.
    if (!items.length) items.push(`STORAGE ${c.type}`);
    const sql = `CREATE OPERATOR CLASS ${q}\n    ${c.isDefault ? 'DEFAULT ' : ''}FOR TYPE ${c.type} USING ${quoteIdent(c.am)} FAMILY ${c.family} AS\n    ${items.join(',\n    ')};\n`;
    const node = b.add(
      { section: 'pre-data', kind: 'OPERATOR CLASS', schema: c.nspname, name: c.name, sql },
      12,
      catalogKey(PG_OPCLASS, c.oid),
      ...memberKeys(membersOf(PG_OPCLASS, c.oid)),
    );
    b.comment(node, `OPERATOR CLASS ${q} USING ${quoteIdent(c.am)}`, PG_OPCLASS, c.oid);
    b.security(node, { owner: { sql: ownerStatement('OPERATOR CLASS', `${q} USING ${quoteIdent(c.am)}`, c.owner), role: c.owner } });
  }
}
