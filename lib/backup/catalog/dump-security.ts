import type pg from 'pg';
import { aclStatementRoles, buildAclCommands, ownerStatement, type AclType } from './acl';
import type { DumpNode } from './order-objects';
import type { DumpObject } from './dump-object';
import { dollarQuote, qualifiedName, quoteIdent, quoteLiteral } from './quote-ident';

/**
 * The security model of the dumped schemas: owners, privileges (object, column and default
 * privileges) and publication membership, read from the catalogs and turned into archive members
 * that come after every object exists (as pg_dump's ACL pass):
 *
 *  - 'OWNER' (one per schema): `ALTER ... OWNER TO` of every owned object in it. Skipped by
 *    `restore --no-owner`.
 *  - 'ACL' (one per schema): first a reset (a DO block revoking every privilege held by anyone
 *    but the owner on the schema's objects and per-schema default privileges — a target whose
 *    default privileges granted something on the freshly created objects, such as a Supabase
 *    project granting ALL to anon, must not keep it), then pg_dump's GRANT/REVOKE statements
 *    relative to acldefault(owner). Skipped by `restore --no-privileges`.
 *  - 'DEFAULT ACL' (one per schema and role): `ALTER DEFAULT PRIVILEGES FOR ROLE r IN SCHEMA s`.
 *    Skipped by `restore --no-privileges`; with `--no-owner`, skipped when the target lacks r.
 *  - 'PUBLICATION' (one per publication a dumped table or schema belongs to): created (with its
 *    comment) when the target lacks it, reused as it is when it has it; then the dumped tables /
 *    schemas are added.
 *
 * Database-wide default privileges (no IN SCHEMA) are 'DEFAULT ACL' members with schema null. A
 * publication's owner is an 'OWNER' member after it, applied only when the restore created it.
 */

/** An object that has an owner and an ACL. */
export interface OwnedRow {
  classid: number;
  oid: number;
  nspname: string;
  /** Unqualified object name as the dump names it (routines: 'f(a integer)'). */
  objname: string;
  /** Routines: the name alone (objname is 'name(args)', and a name may hold parentheses: 'f(x'). */
  proname?: string | null;
  /**
   * Aggregates: the argument list GRANT/REVOKE ... ON FUNCTION takes, plain types
   * ('double precision, double precision'): an ordered-set aggregate's identity arguments
   * ('double precision ORDER BY double precision') are a syntax error there.
   */
  aclArgs?: string | null;
  /** pg_dump kind: SCHEMA, TABLE, VIEW, MATERIALIZED VIEW, SEQUENCE, FOREIGN TABLE, FUNCTION, PROCEDURE, AGGREGATE, TYPE, DOMAIN. */
  kind: string;
  owner: string;
  acl: string[] | null;
  /** The ACL the object starts with (acldefault, or pg_init_privs for an extension's); null when `acl` is. */
  base: string[] | null;
}
export interface ColumnAclRow { attrelid: number; attname: string; acl: string[] }
/**
 * Default privileges of a role in a schema (nspname), or in every schema (nspname null: ALTER DEFAULT
 * PRIVILEGES FOR ROLE r without IN SCHEMA, which replace the built-in defaults: base is
 * acldefault(), so a REVOKE ... FROM PUBLIC is kept; per-schema ones only add to them, base '{}').
 */
export interface DefaultAclRow { role: string; nspname: string | null; objtype: string; acl: string[]; base: string[] }
export interface PublicationRow {
  pubname: string; puballtables: boolean; pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean;
  pubviaroot: boolean;
  /** COMMENT ON PUBLICATION (set when the restore creates the publication). */
  description: string | null;
  /** Its owner (restored by an OWNER member when the restoring role owns it, i.e. the restore created it). */
  owner: string;
  /** Dumped tables in it: qualified name plus optional column list / row filter (PostgreSQL 15+). */
  tables: { relid: number; name: string; columns: string | null; filter: string | null }[];
  /** Dumped schemas it publishes FOR TABLES IN SCHEMA (PostgreSQL 15+). */
  schemas: string[];
}

export interface SecurityCatalog {
  owned: OwnedRow[];
  columnAcls: ColumnAclRow[];
  defaultAcls: DefaultAclRow[];
  publications: PublicationRow[];
  /** Roles that policies of dumped tables are for (CREATE POLICY ... TO role). */
  policyRoles: string[];
  /**
   * Procedural languages that are extension members (plpgsql) whose privileges changed since
   * CREATE EXTENSION (base: pg_init_privs): database-wide, restored as pg_dump does
   * (REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC is a common hardening).
   */
  languages: { lanname: string; owner: string; acl: string[]; base: string[] }[];
}

/** Roles a restore of the dump needs, by what needs them. */
export interface DumpRoles {
  /** Owners of dumped objects (not needed with --no-owner). */
  owners: string[];
  /** Grantees and grantors the privilege statements name (not needed with --no-privileges). */
  privileges: string[];
  /** Roles whose default privileges are restored (ALTER DEFAULT PRIVILEGES FOR ROLE r): needed unless --no-privileges; with --no-owner a missing one's DEFAULT ACL member is skipped. */
  defaultPrivileges: string[];
  /** Roles named by policies (always needed). */
  policies: string[];
}

const NS = 'n.nspname = ANY($1::text[])';

/** Reads owners, ACLs, default privileges and publications of the schemas (inside the dump's snapshot). */
export async function readSecurity(client: pg.ClientBase, schemas: string[], serverVersionNum: number): Promise<SecurityCatalog> {
  const q = async <T extends pg.QueryResultRow>(sql: string) => (await client.query<T>(sql, [schemas])).rows;
  // Schemas first: a grant made by another grantor (SET ROLE) on an object needs
  // that grantor's USAGE on the object's schema, which the schema's own ACL statements give.
  // Sequences after tables: a sequence OWNED BY a column follows its table's owner, and PostgreSQL
  // refuses ALTER ... OWNER on it unless the table already has that owner (a sequence named
  // before its table, e.g. a renamed serial's, failed every restore).
  const owned = await q<OwnedRow>(
    `SELECT classid, oid, nspname, objname, kind, owner, acl,
            CASE WHEN classid = 1255 THEN (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = o.oid::oid) END AS proname,
            CASE WHEN kind = 'AGGREGATE' THEN (SELECT pg_catalog.oidvectortypes(p.proargtypes) FROM pg_catalog.pg_proc p WHERE p.oid = o.oid::oid) END AS "aclArgs",
            -- Only where an ACL was ever set: a NULL one means nothing to dump (aclDiff), and parsing an
            -- unused default ACL for each of 20,000 objects was ~40 MB of garbage on 5,000 tables.
            CASE WHEN acl IS NOT NULL THEN
              coalesce((SELECT ip.initprivs::text[] FROM pg_catalog.pg_init_privs ip
                         WHERE ip.objoid = o.oid::oid AND ip.classoid = o.classid::oid AND ip.objsubid = 0 AND ip.privtype = 'e'), base) END AS base FROM (
     -- objname text, not name: a UNION's column takes its first branch's type, and name cut every
     -- routine's 'f(arguments)' at 63 bytes (ALTER FUNCTION … OWNER TO failed the restore).
     SELECT 2615 AS classid, n.oid::int AS oid, n.nspname, n.nspname::text AS objname, 'SCHEMA' AS kind,
            pg_catalog.pg_get_userbyid(n.nspowner) AS owner, n.nspacl::text[] AS acl, pg_catalog.acldefault('n', n.nspowner)::text[] AS base
       FROM pg_catalog.pg_namespace n WHERE ${NS}
     UNION ALL
     SELECT 1259, c.oid::int, n.nspname, c.relname,
            CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
            pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[],
            pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)::text[]
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     UNION ALL
     SELECT 1255, p.oid::int, n.nspname, p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
            CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
            pg_catalog.pg_get_userbyid(p.proowner), p.proacl::text[], pg_catalog.acldefault('f', p.proowner)::text[]
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ${NS}
     UNION ALL
     SELECT 1247, t.oid::int, n.nspname, t.typname, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
            pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[], pg_catalog.acldefault('T', t.typowner)::text[]
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE ${NS}) o
      ORDER BY classid <> 2615, classid, kind = 'SEQUENCE', nspname, objname COLLATE "C"`,
  );
  // Column ACLs, per-schema default privileges, policy roles and publications in one round trip (the dumper's
  // query count is fixed and small whatever the schema's size).
  const [rest] = await q<{ columnAcls: ColumnAclRow[] | null; defaultAcls: DefaultAclRow[] | null; policyRoles: string[] | null; publications: PublicationJson[] | null; languages: SecurityCatalog['languages'] | null }>(
    `SELECT (SELECT pg_catalog.json_agg(x ORDER BY x.attrelid, x.attnum) FROM (
               SELECT a.attrelid::int AS attrelid, a.attnum, a.attname, a.attacl::text[] AS acl
                 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE ${NS} AND a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped) x) AS "columnAcls",
            (SELECT pg_catalog.json_agg(x ORDER BY x.role, x.nspname, x.objtype) FROM (
               SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text AS role, n.nspname::text, d.defaclobjtype::text AS objtype, d.defaclacl::text[] AS acl,
                      CASE WHEN d.defaclnamespace = 0
                        THEN pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)::text[]
                        ELSE '{}'::text[] END AS base
                 FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
                WHERE ${NS} OR d.defaclnamespace = 0) x) AS "defaultAcls",
            (SELECT pg_catalog.array_agg(DISTINCT pg_catalog.pg_get_userbyid(r.oid)::text) FROM pg_catalog.pg_policy p
               JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,
               LATERAL unnest(p.polroles) r(oid) WHERE ${NS} AND r.oid <> 0) AS "policyRoles",
            (${publicationsJsonSql(serverVersionNum)}) AS publications,
            (SELECT pg_catalog.json_agg(x ORDER BY x.lanname) FROM (
               SELECT l.lanname::text, pg_catalog.pg_get_userbyid(l.lanowner)::text AS owner, l.lanacl::text[] AS acl,
                      coalesce((SELECT ip.initprivs::text[] FROM pg_catalog.pg_init_privs ip
                                 WHERE ip.classoid = 'pg_catalog.pg_language'::pg_catalog.regclass AND ip.objoid = l.oid AND ip.objsubid = 0),
                               pg_catalog.acldefault('l', l.lanowner)::text[]) AS base
                 FROM pg_catalog.pg_language l
                WHERE l.lanispl AND l.lanacl IS NOT NULL
                  AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_language'::pg_catalog.regclass
                                 AND d.objid = l.oid AND d.deptype = 'e')) x) AS languages`,
  );
  const columnAcls = rest.columnAcls ?? [];
  const defaultAcls = rest.defaultAcls ?? [];
  const policyRoles = (rest.policyRoles ?? []).sort();
  const languages = (rest.languages ?? []).filter((l) => buildAclCommands({ type: 'LANGUAGE', name: 'x', owner: l.owner }, l.acl, l.base, { serverVersionNum }) !== '');
  return { owned, columnAcls, defaultAcls, publications: parsePublications(rest.publications), policyRoles, languages };
}

type PublicationJson = Omit<PublicationRow, 'tables' | 'schemas'> & {
  tables: { relid: number; nspname: string; relname: string; columns: string | null; filter: string | null }[] | null;
  schemas: string[] | null;
};

/** A scalar subquery: every publication (json) with the dumped tables and schemas it publishes. */
function publicationsJsonSql(v: number): string {
  const v15 = v >= 150000;
  return `SELECT pg_catalog.json_agg(pub ORDER BY pub.pubname) FROM (
      SELECT p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
             pg_catalog.obj_description(p.oid, 'pg_publication') AS description, pg_catalog.pg_get_userbyid(p.pubowner) AS owner,
            (SELECT pg_catalog.json_agg(x ORDER BY x.nspname, x.relname) FROM (
               SELECT c.oid::int AS relid, n.nspname, c.relname,
                      ${v15 ? `(SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                                 WHERE a.attrelid = pr.prrelid AND a.attnum = ANY(pr.prattrs))` : 'NULL::text'} AS columns,
                      ${v15 ? 'pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)' : 'NULL::text'} AS filter
                 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pr.prpubid = p.oid AND ${NS}) x) AS tables,
            ${v15 ? `(SELECT pg_catalog.array_agg(n.nspname::text ORDER BY n.nspname) FROM pg_catalog.pg_publication_namespace pn
                       JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid AND ${NS})` : 'NULL::text[]'} AS schemas
       FROM pg_catalog.pg_publication p) pub`;
}

function parsePublications(rows: PublicationJson[] | null): PublicationRow[] {
  return (rows ?? [])
    .map((p) => ({
      ...p,
      tables: (p.tables ?? []).map((t) => ({ relid: t.relid, name: qualifiedName(t.nspname, t.relname), columns: t.columns, filter: t.filter })),
      schemas: p.schemas ?? [],
    }))
    .filter((p) => p.puballtables || p.tables.length || p.schemas.length);
}

/** What addSecurityNodes needs from the dumper: its node factory and the catalog-object -> node map. */
export interface SecurityContext {
  add(obj: DumpObject): DumpNode;
  nodeFor(classid: number, oid: number): DumpNode | undefined;
  serverVersionNum: number;
  schemas: string[];
}

const ACL_TYPE: Record<string, AclType> = {
  SCHEMA: 'SCHEMA', TABLE: 'TABLE', VIEW: 'TABLE', 'MATERIALIZED VIEW': 'TABLE', 'FOREIGN TABLE': 'TABLE', SEQUENCE: 'SEQUENCE',
  FUNCTION: 'FUNCTION', AGGREGATE: 'FUNCTION', PROCEDURE: 'PROCEDURE', TYPE: 'TYPE', DOMAIN: 'TYPE',
};
const DEFAULT_ACL_TYPE: Record<string, AclType> = { r: 'TABLES', S: 'SEQUENCES', f: 'FUNCTIONS', T: 'TYPES', n: 'SCHEMAS' };

/** The node that creates this very object (not its table, extension or row type), if it is dumped. */
function creatingNode(ctx: SecurityContext, o: OwnedRow): DumpNode | undefined | 'public' {
  if (o.kind === 'SCHEMA') return o.nspname === 'public' ? 'public' : ctx.nodeFor(o.classid, o.oid);
  const n = ctx.nodeFor(o.classid, o.oid);
  if (!n) return undefined;
  if (o.classid === 1255) return ['FUNCTION', 'PROCEDURE', 'AGGREGATE'].includes(n.obj.kind) ? n : undefined;
  // Row types map to their table, array types to their element type: only the type itself counts.
  if (o.classid === 1247) return (n.obj.kind === 'TYPE' || n.obj.kind === 'DOMAIN') && n.obj.name === o.objname ? n : undefined;
  // An identity sequence maps to its table: it has its own ACL but the table's owner.
  return n.obj.kind === 'EXTENSION' ? undefined : n;
}

/**
 * Adds the OWNER, ACL and PUBLICATION nodes (post-data, after every other post-data object and
 * before materialized view refreshes, which run as the view's owner with its privileges).
 * Returns the roles the statements name.
 */
export function addSecurityNodes(ctx: SecurityContext, sec: SecurityCatalog): DumpRoles {
  const owners = new Set<string>();
  const privRoles = new Set<string>();
  const ownerSql = new Map<string, string>();
  const aclSql = new Map<string, string>();
  const deps = new Map<string, Set<DumpNode>>();
  const append = (m: Map<string, string>, s: string, sql: string) => m.set(s, (m.get(s) ?? '') + sql);
  const colAcls = new Map<number, ColumnAclRow[]>();
  for (const c of sec.columnAcls) colAcls.set(c.attrelid, [...(colAcls.get(c.attrelid) ?? []), c]);
  const opts = { serverVersionNum: ctx.serverVersionNum };

  for (const o of sec.owned) {
    const node = creatingNode(ctx, o);
    const routine = o.classid === 1255 && o.proname ? qualifiedName(o.nspname, o.proname) : null;
    const name = o.kind === 'SCHEMA' ? quoteIdent(o.nspname) : routine ? `${routine}${o.objname.slice(o.proname!.length)}` : qualifiedName(o.nspname, o.objname);
    const aclName = routine && typeof o.aclArgs === 'string' ? `${routine}(${o.aclArgs})` : name;
    if (!node) {
      // A member of a dumped extension: CREATE EXTENSION makes it with its initial privileges
      // (pg_init_privs, the base here); what was granted or revoked since is restored, as pg_dump does.
      const ext = o.kind === 'SCHEMA' ? undefined : ctx.nodeFor(o.classid, o.oid);
      if (ext?.obj.kind !== 'EXTENSION') continue;
      const target = { type: ACL_TYPE[o.kind], name: aclName, owner: o.owner };
      const sql = buildAclCommands(target, o.acl, o.base, opts);
      if (!sql) continue;
      for (const r of aclStatementRoles(target, o.acl, o.base)) privRoles.add(r);
      append(aclSql, o.nspname, sql);
      deps.set(o.nspname, (deps.get(o.nspname) ?? new Set()).add(ext));
      continue;
    }
    if (node !== 'public') {
      const d = deps.get(o.nspname) ?? new Set();
      d.add(node);
      deps.set(o.nspname, d);
    }
    const ownsItself = node === 'public' || node.obj.name === o.objname || o.classid === 1255;
    // public: pg_database_owner is what every PostgreSQL 15+ database starts with (pg_dump omits it too).
    if (ownsItself && !(node === 'public' && o.owner === 'pg_database_owner')) {
      append(ownerSql, o.nspname, ownerStatement(o.kind === 'FOREIGN TABLE' ? 'FOREIGN TABLE' : o.kind, name, o.owner));
      owners.add(o.owner);
    }
    const target = { type: ACL_TYPE[o.kind], name: aclName, owner: o.owner };
    let sql = buildAclCommands(target, o.acl, o.base, opts);
    for (const r of aclStatementRoles(target, o.acl, o.base)) privRoles.add(r);
    for (const c of o.classid === 1259 ? (colAcls.get(o.oid) ?? []) : []) {
      sql += buildAclCommands({ ...target, type: 'TABLE', column: quoteIdent(c.attname) }, c.acl, [], opts);
      for (const r of aclStatementRoles(target, c.acl, [])) privRoles.add(r);
    }
    if (sql) append(aclSql, o.nspname, sql);
  }
  // Default privileges: one member per (schema, role), so a restore can leave out those of a role
  // the target lacks when owners are not restored either (--no-owner).
  const defaultSql = new Map<string, string>();
  const defaultRoles = new Set<string>();
  // Those for every schema (nspname null) are database-wide: key '' (schema null in the manifest).
  for (const d of sec.defaultAcls) {
    if (d.nspname !== null && !ctx.schemas.includes(d.nspname)) continue;
    const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(d.role)} ${d.nspname === null ? '' : `IN SCHEMA ${quoteIdent(d.nspname)} `}`;
    const base = d.base ?? [];
    append(defaultSql, `${d.nspname ?? ''}\u0000${d.role}`, buildAclCommands({ type: DEFAULT_ACL_TYPE[d.objtype] ?? 'TABLES', name: '', owner: null }, d.acl, base, { ...opts, prefix }));
    defaultRoles.add(d.role);
    for (const r of aclStatementRoles({ owner: null }, d.acl, base)) privRoles.add(r);
  }

  const ownerNodes = new Map<string, DumpNode>();
  for (const s of ctx.schemas) {
    const sql = ownerSql.get(s);
    if (!sql) continue;
    const n = ctx.add({ section: 'post-data', kind: 'OWNER', schema: s, name: s, sql });
    n.priority = 90;
    for (const d of deps.get(s) ?? []) n.deps.add(d);
    ownerNodes.set(s, n);
  }
  for (const s of ctx.schemas) {
    // Every schema gets one, GRANTs or not: its reset takes away what the target's default
    // privileges gave the objects the restore creates (a schema that never granted anything, restored
    // into a database whose defaults grant ALL ON TABLES TO anon, kept anon's ALL).
    const sql = aclSql.get(s) ?? '';
    const n = ctx.add({ section: 'post-data', kind: 'ACL', schema: s, name: s, sql: aclResetSql(s) + sql });
    n.priority = 91;
    for (const d of deps.get(s) ?? []) n.deps.add(d);
    const on = ownerNodes.get(s);
    if (on) n.deps.add(on);
  }
  for (const [k, sql] of defaultSql) {
    const [schema, role] = k.split('\u0000');
    if (!sql) continue;
    // Only a member of the role may set them (a superuser is one of every role). A Supabase project's
    // "postgres" is not a member of supabase_admin, whose default privileges the platform sets (the new
    // project already has them): gunzip | psql as "postgres" must not stop there. Our restore leaves
    // such a member out, said in its plan (security-preflight.ts); psql prints the WARNING.
    const where = schema ? `in schema ${schema}` : 'in every schema';
    const body = `
BEGIN
  IF pg_catalog.pg_has_role(${quoteLiteral(role)}, 'MEMBER') THEN
    EXECUTE ${quoteLiteral(sql)};
  ELSE
    RAISE WARNING '%', ${quoteLiteral(`default privileges of role ${role} ${where} left as the target has them (the restoring role is not a member of ${role})`)};
  END IF;
END
`;
    const n = ctx.add({ section: 'post-data', kind: 'DEFAULT ACL', schema: schema || null, name: role, sql: `DO ${dollarQuote(body)};\n` });
    n.priority = 91.5;
    for (const d of deps.get(schema) ?? []) n.deps.add(d);
  }
  for (const l of sec.languages ?? []) {
    const target = { type: 'LANGUAGE' as const, name: quoteIdent(l.lanname), owner: l.owner };
    const n = ctx.add({ section: 'post-data', kind: 'ACL', schema: null, name: `LANGUAGE ${l.lanname}`, sql: buildAclCommands(target, l.acl, l.base, opts) });
    n.priority = 91;
    for (const r of aclStatementRoles(target, l.acl, l.base)) privRoles.add(r);
  }
  for (const p of sec.publications) {
    const n = ctx.add({ section: 'post-data', kind: 'PUBLICATION', schema: null, name: p.pubname, sql: publicationSql(p) });
    n.priority = 92;
    for (const t of p.tables) {
      const tn = ctx.nodeFor(1259, t.relid);
      if (tn) n.deps.add(tn);
    }
    // Its owner, as pg_dump restores it; only when the restoring role owns the publication (the
    // restore created it): one the target already had keeps its owner. `--no-owner` skips it.
    const alter = `ALTER PUBLICATION ${quoteIdent(p.pubname)} OWNER TO ${quoteIdent(p.owner)}`;
    const body = `
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${quoteLiteral(p.pubname)} AND pubowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
     AND current_user <> ${quoteLiteral(p.owner)} THEN
    EXECUTE ${quoteLiteral(alter)};
  END IF;
END
`;
    const o = ctx.add({ section: 'post-data', kind: 'OWNER', schema: null, name: `PUBLICATION ${p.pubname}`, sql: `DO ${dollarQuote(body)};\n` });
    o.priority = 92.5;
    o.deps.add(n);
    owners.add(p.owner);
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { owners: sorted(owners), privileges: sorted(privRoles), defaultPrivileges: sorted(defaultRoles), policies: [...sec.policyRoles].sort() };
}


/**
 * Brings the schema's objects back to acldefault() (revokes whatever anyone but the owner holds,
 * gives back PUBLIC's and the owner's defaults) and revokes its per-schema default privileges, so
 * the GRANTs that follow produce exactly the source's ACLs whatever default privileges the target
 * applied when the objects were created. Extension members are left alone.
 */
export function aclResetSql(schema: string): string {
  const s = quoteLiteral(schema);
  const reg = `${quoteLiteral(quoteIdent(schema))}::pg_catalog.regnamespace`;
  // The schema, and its objects that can carry privileges (acldefault's object type in t); extension
  // members are left alone (CREATE EXTENSION gave them theirs).
  const objects = `(SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.oid::pg_catalog.regclass::text AS name,
                   c.relacl AS acl, c.relowner AS owner, CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char" AS t,
                   'pg_catalog.pg_class'::pg_catalog.regclass AS cls, c.oid
              FROM pg_catalog.pg_class c WHERE c.relnamespace = ${reg} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            UNION ALL
            SELECT CASE WHEN p.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::pg_catalog.regprocedure::text,
                   p.proacl, p.proowner, 'f'::"char", 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid
              FROM pg_catalog.pg_proc p WHERE p.pronamespace = ${reg}
            UNION ALL
            SELECT 'TYPE', t.oid::pg_catalog.regtype::text, t.typacl, t.typowner, 'T'::"char", 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid
              FROM pg_catalog.pg_type t WHERE t.typnamespace = ${reg} AND t.typacl IS NOT NULL
            UNION ALL
            SELECT 'SCHEMA', pg_catalog.quote_ident(n.nspname), n.nspacl, n.nspowner, 'n'::"char", 'pg_catalog.pg_namespace'::pg_catalog.regclass, n.oid
              FROM pg_catalog.pg_namespace n WHERE n.nspname = ${s}) o`;
  const notExtension = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = o.cls AND d.objid = o.oid AND d.deptype = 'e')`;
  const who = (g: string) => `CASE WHEN ${g} = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(${g})) END`;
  // 1. Revoke what anyone but the owner holds. 2. Give back what acldefault() holds and the object
  // lacks (PUBLIC's EXECUTE on a function, USAGE on a type, an owner's privilege a default privilege
  // took away): every object is then as if just created without default privileges, which is
  // what the backup's GRANT/REVOKE statements (relative to acldefault, like pg_dump's) start from.
  // An object the backup never granted anything on must end with exactly PUBLIC's defaults.
  const body = `
DECLARE r record;
BEGIN
  FOR r IN
    SELECT DISTINCT pg_catalog.format('REVOKE ALL ON %s %s FROM %s CASCADE', o.kind, o.name, ${who('a.grantee')}) AS stmt
      FROM ${objects}, LATERAL pg_catalog.aclexplode(o.acl) a
     WHERE a.grantee <> o.owner AND ${notExtension}
  LOOP
    EXECUTE r.stmt;
  END LOOP;
  FOR r IN
    SELECT DISTINCT pg_catalog.format('GRANT %s ON %s %s TO %s', d.privilege_type, o.kind, o.name, ${who('d.grantee')}) AS stmt
      FROM ${objects}, LATERAL pg_catalog.aclexplode(pg_catalog.acldefault(o.t, o.owner)) d
     WHERE o.acl IS NOT NULL AND ${notExtension}
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(o.acl) a WHERE a.grantee = d.grantee AND a.privilege_type = d.privilege_type)
  LOOP
    EXECUTE r.stmt;
  END LOOP;
  FOR r IN
    SELECT DISTINCT pg_catalog.format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON %s FROM %s',
             pg_catalog.pg_get_userbyid(d.defaclrole), ${s},
             CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
             ${who('a.grantee')}) AS stmt
      FROM pg_catalog.pg_default_acl d, LATERAL pg_catalog.aclexplode(d.defaclacl) a
     WHERE d.defaclnamespace = ${reg}
       -- (only a member of the role may change them: a Supabase project's "postgres" is not one of
       -- supabase_admin, whose default privileges are the platform's; those are left as they are)
       AND pg_catalog.pg_has_role(d.defaclrole, 'MEMBER')
  LOOP
    EXECUTE r.stmt;
  END LOOP;
END
`;
  return `DO ${dollarQuote(body)};\n`;
}

function publicationSql(p: PublicationRow): string {
  const publish = [p.pubinsert && 'insert', p.pubupdate && 'update', p.pubdelete && 'delete', p.pubtruncate && 'truncate'].filter(Boolean).join(', ');
  const create = `CREATE PUBLICATION ${quoteIdent(p.pubname)}${p.puballtables ? ' FOR ALL TABLES' : ''} WITH (publish = ${quoteLiteral(publish)}${p.pubviaroot ? ', publish_via_partition_root = true' : ''})`;
  const body = `
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${quoteLiteral(p.pubname)}) THEN
    EXECUTE ${quoteLiteral(create)};${p.description === null ? '' : `
    EXECUTE ${quoteLiteral(`COMMENT ON PUBLICATION ${quoteIdent(p.pubname)} IS ${quoteLiteral(p.description)}`)};`}
  END IF;
END
`;
  let sql = `DO ${dollarQuote(body)};\n`;
  for (const s of p.schemas) {
    const add = `
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_publication p ON p.oid = pn.pnpubid
                  WHERE p.pubname = ${quoteLiteral(p.pubname)} AND pn.pnnspid = ${quoteLiteral(quoteIdent(s))}::pg_catalog.regnamespace) THEN
    EXECUTE ${quoteLiteral(`ALTER PUBLICATION ${quoteIdent(p.pubname)} ADD TABLES IN SCHEMA ${quoteIdent(s)}`)};
  END IF;
END
`;
    sql += `DO ${dollarQuote(add)};\n`;
  }
  for (const t of p.tables) {
    sql += `ALTER PUBLICATION ${quoteIdent(p.pubname)} ADD TABLE ONLY ${t.name}${t.columns ? ` (${t.columns})` : ''}${t.filter ? ` WHERE (${t.filter})` : ''};\n`;
  }
  return sql;
}
