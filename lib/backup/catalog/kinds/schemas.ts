import type { DumpGraph } from '../dump-graph';
import { dollarQuote, quoteIdent, quoteLiteral } from '../quote-ident';
import { catalogKey, PG_EXTENSION, PG_NAMESPACE } from './kind-types';

/**
 * Extensions and schemas, the first nodes of the dump. An extension's member objects are never
 * dumped, and a dependency on a member is a dependency on the extension.
 */
export function buildExtensions(g: DumpGraph): void {
  const { cat } = g;
  // An extension is dumped when it lives in a dumped schema or a dumped object uses one of its
  // members (or it is required by such an extension).
  const schemaSet = new Set(cat.schemas.map((n) => n.nspname));
  const extOids = new Set(cat.extensions.map((e) => e.oid));
  const needed = new Set(cat.extensions.filter((e) => e.inSchemas).map((e) => e.oid));
  const extRequires = new Map<number, number[]>();
  for (const d of cat.depends) {
    const refExt = d.refclassid === PG_EXTENSION ? d.refobjid : cat.extMembers.get(catalogKey(d.refclassid, d.refobjid));
    if (refExt === undefined || !extOids.has(refExt)) continue;
    if (d.classid === PG_EXTENSION) {
      extRequires.set(d.objid, [...(extRequires.get(d.objid) ?? []), refExt]);
    } else if (!g.isMember(d.classid, d.objid)) {
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
    const node = g.add(
      { section: 'pre-data', kind: 'EXTENSION', schema: null, name: e.extname, sql: `${mkSchema}CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e.extname)} WITH SCHEMA ${quoteIdent(e.nspname)};\n` },
      catalogKey(PG_EXTENSION, e.oid),
    );
    // Only when it differs: the target's copy of the extension (Supabase's pgcrypto in "extensions")
    // belongs to another role, and COMMENT needs its owner: an unconditional COMMENT failed every
    // restore as the project's non-superuser "postgres" (and gunzip | psql), for a comment that
    // CREATE EXTENSION had already set to the same text.
    const text = cat.comments.get(`${PG_EXTENSION}:${e.oid}:0`);
    if (text !== undefined) {
      const set = `COMMENT ON EXTENSION ${quoteIdent(e.extname)} IS ${quoteLiteral(text)}`;
      const body = `
BEGIN
  IF pg_catalog.obj_description((SELECT x.oid FROM pg_catalog.pg_extension x WHERE x.extname = ${quoteLiteral(e.extname)}), 'pg_extension') IS DISTINCT FROM ${quoteLiteral(text)} THEN
    EXECUTE ${quoteLiteral(set)};
  END IF;
END
`;
      node.comments.push({ section: node.obj.section, kind: 'COMMENT', schema: null, name: `EXTENSION ${quoteIdent(e.extname)}`, sql: `DO ${dollarQuote(body)};\n` });
    }
  }
  const extByOid = new Map(cat.extensions.filter((e) => needed.has(e.oid)).map((e) => [e.oid, g.nodeFor(PG_EXTENSION, e.oid)!]));
  for (const [k, extOid] of cat.extMembers) {
    const n = extByOid.get(extOid);
    if (n) g.owner.set(k, n);
  }
}

export function buildSchemas(g: DumpGraph): void {
  for (const n of g.cat.schemas) {
    if (n.nspname === 'public') {
      // Exists in every fresh database; only a changed comment is worth restoring (as pg_dump 15).
      const text = g.cat.comments.get(`${PG_NAMESPACE}:${n.oid}:0`);
      if (text !== undefined && text !== 'standard public schema') {
        // Everything in public depends on this entry (it stands for the schema): sort it first.
        g.add({ section: 'pre-data', kind: 'COMMENT', schema: null, name: 'SCHEMA public', sql: `COMMENT ON SCHEMA public IS ${quoteLiteral(text)};\n` }, catalogKey(PG_NAMESPACE, n.oid)).priority = 0;
      }
      continue;
    }
    const node = g.add({ section: 'pre-data', kind: 'SCHEMA', schema: null, name: n.nspname, sql: `CREATE SCHEMA ${quoteIdent(n.nspname)};\n` }, catalogKey(PG_NAMESPACE, n.oid));
    g.comment(node, `SCHEMA ${quoteIdent(n.nspname)}`, PG_NAMESPACE, n.oid);
  }
}
