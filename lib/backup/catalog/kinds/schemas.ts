import type { DumpGraph } from '../dump-graph';
import { aclStatementRoles, buildAclCommands } from '../acl';
import { dollarQuote, quoteIdent, quoteLiteral } from '../quote-ident';
import type { ExtensionRow } from '../read-catalog';
import { RESTORE_WARNING_CODE } from './kind-types';
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
    const mkSchema = schemaSet.has(e.nspname) || e.nspname === 'public' ? '' : outsideSchemaSql(g, e);
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

/**
 * An extension's schema outside the dump: created when the target lacks it, and then as the
 * source has it — its comment, owner and privileges, in that order (a bare CREATE SCHEMA lost
 * `GRANT USAGE ON SCHEMA ext TO PUBLIC`: every other role then failed on the extension's types
 * and functions, with a green drill, which compares the dumped schemas only). A schema the
 * target already has (Supabase's "extensions") is left exactly as it is, so its roles are not
 * among those the restore requires up front: where the restoring role cannot give the schema to
 * its owner (no such role, not a member) or make its grants, the schema keeps what CREATE SCHEMA
 * gave it and a WARNING says so (psql prints it; the restore reports it).
 */
function outsideSchemaSql(g: DumpGraph, e: ExtensionRow): string {
  const name = quoteIdent(e.nspname);
  const target = { type: 'SCHEMA' as const, name, owner: e.nspowner };
  const acl = buildAclCommands(target, e.nspacl, e.nspbase, { serverVersionNum: g.cat.serverVersionNum });
  const grantees = aclStatementRoles(target, e.nspacl, e.nspbase);
  const grantors = [...acl.matchAll(/^SET ROLE (.+);$/gm)].map((m) => grantees.find((r) => quoteIdent(r) === m[1])!).filter(Boolean);
  const exists = (r: string) => `EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(r)})`;
  // CASE, not AND: SQL does not promise to test the role's existence first (pg_has_role raises on a missing role).
  // Parenthesized: PL/pgSQL ends an IF condition at the first THEN outside parentheses.
  const member = (r: string) => `(CASE WHEN ${exists(r)} THEN pg_catalog.pg_has_role(${quoteLiteral(r)}, 'MEMBER') ELSE false END)`;
  const warn = (what: string) => `RAISE WARNING USING ERRCODE = '${RESTORE_WARNING_CODE}', MESSAGE = ${quoteLiteral(`schema ${e.nspname} (of extension ${e.extname}) created without its ${what}: a role it names does not exist here, or the restoring role is not a member of it`)};`;
  const owned = `(SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = ${quoteLiteral(e.nspname)}) = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = ${quoteLiteral(e.nspowner)})`;
  const owner = `
    IF current_user <> ${quoteLiteral(e.nspowner)} THEN
      IF ${member(e.nspowner)} THEN
        EXECUTE ${quoteLiteral(`ALTER SCHEMA ${name} OWNER TO ${quoteIdent(e.nspowner)}`)};
      ELSE
        ${warn(`owner ${e.nspowner}`)}
      END IF;
    END IF;`;
  const grants = acl
    ? `
    IF ${[owned, ...grantees.map(exists), ...[...new Set(grantors)].map(member)].join(' AND ')} THEN
      EXECUTE ${quoteLiteral(acl)};
    ELSE
      ${warn('privileges')}
    END IF;`
    : '';
  const comment = e.nspcomment !== null ? `\n    COMMENT ON SCHEMA ${name} IS ${quoteLiteral(e.nspcomment)};` : '';
  const body = `
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${quoteLiteral(e.nspname)}) THEN
    CREATE SCHEMA ${name};${comment}${owner}${grants}
  END IF;
END
`;
  return `DO ${dollarQuote(body)};\n`;
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
