import { qualifiedName, quoteIdent, quoteLiteral } from '../quote-ident';
import { catalogKey, notExtensionMember, PG_COLLATION, type KindBuilder } from './kind-types';
import { ownerStatement } from '../acl';

/** Collations created in the dumped schemas (CREATE COLLATION ... provider icu/libc). */
export interface CollationRow {
  oid: number; nspname: string; owner: string;
  /** The pg_collation row as JSON: its columns differ between 15 (colliculocale) and 17 (colllocale). */
  c: Record<string, unknown>;
}

/** Rows of this kind ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const COLLATIONS_SQL = `SELECT x.oid::int AS oid, n.nspname, pg_catalog.pg_get_userbyid(x.collowner) AS owner, pg_catalog.to_jsonb(x) AS c
       FROM pg_catalog.pg_collation x JOIN pg_catalog.pg_namespace n ON n.oid = x.collnamespace
      WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember('pg_catalog.pg_collation', 'x.oid')}
      ORDER BY n.nspname, x.collname`;

export function collationSql(r: CollationRow): string {
  const c = r.c as { collname: string; collprovider: string; collisdeterministic: boolean; collencoding: number; collcollate?: string | null; collctype?: string | null; colliculocale?: string | null; colllocale?: string | null; collicurules?: string | null };
  // A libc collation usable in every encoding (collencoding -1) is a copy of "C" or "POSIX": only
  // CREATE COLLATION ... FROM makes one (given as provider/locale, the server ties it to the
  // database's encoding), and a drill saw it changed.
  if (c.collprovider === 'c' && c.collencoding === -1 && c.collcollate === c.collctype && (c.collcollate === 'C' || c.collcollate === 'POSIX')) {
    return `CREATE COLLATION ${qualifiedName(r.nspname, c.collname)} FROM pg_catalog.${quoteIdent(c.collcollate)};\n`;
  }
  const parts: string[] = [];
  const provider = { i: 'icu', c: 'libc', b: 'builtin' }[c.collprovider];
  if (!provider) throw new Error(`collation ${r.nspname}.${c.collname} has provider ${c.collprovider}`);
  parts.push(`provider = ${provider}`);
  if (!c.collisdeterministic) parts.push('deterministic = false');
  const locale = c.colllocale ?? c.colliculocale ?? null;
  if (c.collprovider !== 'c' && locale !== null) parts.push(`locale = ${quoteLiteral(locale)}`);
  else if (c.collcollate === c.collctype && c.collcollate != null) parts.push(`locale = ${quoteLiteral(c.collcollate)}`);
  else {
    if (c.collcollate != null) parts.push(`lc_collate = ${quoteLiteral(c.collcollate)}`);
    if (c.collctype != null) parts.push(`lc_ctype = ${quoteLiteral(c.collctype)}`);
  }
  if (c.collicurules) parts.push(`rules = ${quoteLiteral(c.collicurules)}`);
  return `CREATE COLLATION ${qualifiedName(r.nspname, c.collname)} (${parts.join(', ')});\n`;
}

export function buildCollations(rows: CollationRow[], b: KindBuilder): void {
  for (const r of rows) {
    const name = String(r.c.collname);
    const q = qualifiedName(r.nspname, name);
    const node = b.add({ section: 'pre-data', kind: 'COLLATION', schema: r.nspname, name, sql: collationSql(r) }, 3, catalogKey(PG_COLLATION, r.oid));
    b.security(node, { owner: { sql: ownerStatement('COLLATION', q, r.owner), role: r.owner } });
    b.comment(node, `COLLATION ${q}`, PG_COLLATION, r.oid);
  }
}
