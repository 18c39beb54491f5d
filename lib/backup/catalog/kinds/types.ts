import { groupBy, type DumpGraph } from '../dump-graph';
import { qualifiedName, quoteIdent, quoteLiteral } from '../quote-ident';
import type { DomainConstraintRow, TypeRow } from '../read-catalog';
import { catalogKey, PG_CLASS, PG_CONSTRAINT, PG_TYPE } from './kind-types';
import { callingNonImmutable, checksCallingSqlBodies } from './relations';

/**
 * User-defined types: enums, composite types, ranges (with their multiranges), domains, and shell
 * types (`CREATE TYPE name;` and nothing more: a placeholder a base type's C functions would name).
 */
export function buildTypes(g: DumpGraph): void {
  const domainCons = groupBy(g.cat.domainConstraints, (c) => c.contypid);
  const separate = checksCallingSqlBodies(g);
  // A NOT VALID CHECK may hold rows that violate it, and COPY checks every domain constraint: it is
  // added after the data (post-data), as pg_dump does; before, such a backup never restored. So is
  // a CHECK calling a routine that is not IMMUTABLE (it may read a table not loaded yet: see
  // checksCallingNonImmutable), validated then.
  const afterData = callingNonImmutable(g, g.cat.domainConstraints.filter((c) => c.contype === 'c' && c.convalidated).map((c) => c.oid));
  const notValid = new Set(g.cat.domainConstraints.filter((c) => (!c.convalidated || afterData.has(c.oid)) && !separate.has(c.oid)).map((c) => c.oid));
  for (const t of g.cat.types) {
    if (g.isMember(PG_TYPE, t.oid)) continue;
    const q = qualifiedName(t.nspname, t.typname);
    const keys = [catalogKey(PG_TYPE, t.oid)];
    if (t.typarray) keys.push(catalogKey(PG_TYPE, t.typarray));
    const cons = domainCons.get(t.oid) ?? [];
    let kind = 'TYPE';
    let sql: string;
    if (t.typtype === 'p') {
      sql = `CREATE TYPE ${q};\n`;
    } else if (t.typtype === 'e') {
      sql = `CREATE TYPE ${q} AS ENUM (${(t.labels ?? []).map((l) => `\n    ${quoteLiteral(l)}`).join(',')}\n);\n`;
    } else if (t.typtype === 'c') {
      keys.push(catalogKey(PG_CLASS, t.typrelid));
      const attrs = g.colsByRel.get(t.typrelid) ?? [];
      sql = `CREATE TYPE ${q} AS (${attrs.map((a) => `\n    ${quoteIdent(a.attname)} ${a.typ}${a.coll ? ` COLLATE ${a.coll}` : ''}`).join(',')}\n);\n`;
    } else if (t.typtype === 'r') {
      if (t.multirange) keys.push(catalogKey(PG_TYPE, t.multirange), ...(t.multirangeArray ? [catalogKey(PG_TYPE, t.multirangeArray)] : []));
      sql = rangeSql(q, t);
    } else {
      kind = 'DOMAIN';
      keys.push(...cons.filter((c) => !separate.has(c.oid) && !notValid.has(c.oid)).map((c) => catalogKey(PG_CONSTRAINT, c.oid)));
      sql = domainSql(q, t, cons.filter((c) => !separate.has(c.oid) && !notValid.has(c.oid)));
    }
    const node = g.add({ section: 'pre-data', kind, schema: t.nspname, name: t.typname, sql }, ...keys);
    const inlineChecks = cons.filter((c) => !separate.has(c.oid) && !notValid.has(c.oid) && c.contype === 'c');
    if (kind === 'DOMAIN' && inlineChecks.length) {
      // In a dependency loop (a CHECK calling a routine whose SQL-standard body uses this domain):
      // the domain without its CHECKs first, the CHECKs once the routine exists (pg_dump's repair).
      node.breakLoop = () => {
        node.obj.sql = domainSql(q, t, cons.filter((c) => !separate.has(c.oid) && !notValid.has(c.oid) && c.contype !== 'c'));
        const rest = g.add({
          section: 'pre-data', kind: 'CONSTRAINT', schema: t.nspname, name: inlineChecks.map((c) => c.conname).join(', '), table: t.typname,
          sql: inlineChecks.map((c) => `ALTER DOMAIN ${q} ADD CONSTRAINT ${quoteIdent(c.conname)} ${c.def};\n`).join(''),
        });
        const isCheckComment = (o: { name: string }) => inlineChecks.some((c) => o.name === `CONSTRAINT ${quoteIdent(c.conname)} ON DOMAIN ${q}`);
        rest.comments.push(...node.comments.filter(isCheckComment));
        node.comments = node.comments.filter((o) => !isCheckComment(o));
        return rest;
      };
    }
    // A CHECK calling a BEGIN ATOMIC routine that reads a table (perhaps one with a column of this
    // domain): its own entry, after that routine (pg_dump's domain constraint loop repair).
    for (const c of cons.filter((x) => separate.has(x.oid))) {
      const sep = g.add({ section: 'pre-data', kind: 'CONSTRAINT', schema: t.nspname, name: c.conname, sql: `ALTER DOMAIN ${q} ADD CONSTRAINT ${quoteIdent(c.conname)} ${c.def};\n` }, catalogKey(PG_CONSTRAINT, c.oid));
      sep.deps.add(node);
      g.comment(sep, `CONSTRAINT ${quoteIdent(c.conname)} ON DOMAIN ${q}`, PG_CONSTRAINT, c.oid);
    }
    for (const c of cons.filter((x) => notValid.has(x.oid))) {
      const sql = `ALTER DOMAIN ${q} ADD CONSTRAINT ${quoteIdent(c.conname)} ${c.def};\n`;
      const late = g.add({ section: 'post-data', kind: 'CONSTRAINT', schema: t.nspname, name: c.conname, sql }, catalogKey(PG_CONSTRAINT, c.oid));
      late.deps.add(node);
      g.comment(late, `CONSTRAINT ${quoteIdent(c.conname)} ON DOMAIN ${q}`, PG_CONSTRAINT, c.oid);
    }
    g.comment(node, `${kind} ${q}`, PG_TYPE, t.oid);
    if (t.typtype === 'c') {
      for (const a of g.colsByRel.get(t.typrelid) ?? []) g.comment(node, `COLUMN ${q}.${quoteIdent(a.attname)}`, PG_CLASS, t.typrelid, a.attnum);
    }
    for (const c of cons) if (!separate.has(c.oid) && !notValid.has(c.oid)) g.comment(node, `CONSTRAINT ${quoteIdent(c.conname)} ON DOMAIN ${q}`, PG_CONSTRAINT, c.oid);
  }
}

function rangeSql(q: string, t: TypeRow): string {
  const parts = [`subtype = ${t.subtype}`];
  if (t.multirangeName) parts.push(`multirange_type_name = ${t.multirangeName}`);
  if (t.subtypeOpclass) parts.push(`subtype_opclass = ${t.subtypeOpclass}`);
  if (t.collation) parts.push(`collation = ${t.collation}`);
  if (t.canonical) parts.push(`canonical = ${t.canonical}`);
  if (t.subdiff) parts.push(`subtype_diff = ${t.subdiff}`);
  return `CREATE TYPE ${q} AS RANGE (\n    ${parts.join(',\n    ')}\n);\n`;
}

/** Validated constraints inline; NOT VALID ones added after (ALTER DOMAIN ... ADD CONSTRAINT). */
function domainSql(q: string, t: TypeRow, cons: DomainConstraintRow[]): string {
  let s = `CREATE DOMAIN ${q} AS ${t.basetype}`;
  if (t.collation) s += ` COLLATE ${t.collation}`;
  if (t.defaultExpr !== null) s += ` DEFAULT ${t.defaultExpr}`;
  if (t.typnotnull && !cons.some((c) => c.contype === 'n')) s += ' NOT NULL';
  const later: string[] = [];
  for (const c of cons) {
    if (c.convalidated) s += `\n\tCONSTRAINT ${quoteIdent(c.conname)} ${c.def}`;
    else later.push(`ALTER DOMAIN ${q} ADD CONSTRAINT ${quoteIdent(c.conname)} ${c.def};\n`);
  }
  return `${s};\n${later.join('')}`;
}
