import type pg from 'pg';
import { AppError } from '../../errors';
import { quoteIdent } from '../catalog/quote-ident';
import type { Manifest, ManifestPublication, ManifestTable } from '../manifest';
import type { MemberAction, RestoreOptions } from './restore-types';

/**
 * What a restore of a format v2 backup needs from its target before anything is touched: the
 * roles the archive names (owners unless --no-owner, grantees unless --no-privileges, policy roles
 * always), the right to give objects to those owners, and every object outside the backed-up
 * schemas that backed-up objects use (Supabase's `auth.uid()`, `auth.users`). All missing items are
 * named in one line and the restore stops. v1 manifests record none of this: nothing to check.
 */

/** Roles the restore needs with these options. */
export function neededRoles(m: Manifest, opts: Pick<RestoreOptions, 'noOwner' | 'noPrivileges'>): string[] {
  const r = m.roles;
  if (!r) return [];
  // With --no-owner, default privileges of a role the target lacks are left out (securityActions).
  const defaults = opts.noOwner || opts.noPrivileges ? [] : r.defaultPrivileges;
  return [...new Set([...r.policies, ...(opts.noOwner ? [] : r.owners), ...(opts.noPrivileges ? [] : r.privileges), ...defaults])].sort();
}

/** The problems, one phrase each ('role anon', 'function auth.uid() used by policy ...'); [] when ready. */
export async function securityProblems(client: pg.ClientBase, m: Manifest, opts: Pick<RestoreOptions, 'noOwner' | 'noPrivileges'>): Promise<string[]> {
  const roles = neededRoles(m, opts);
  const deps = m.externalDependencies ?? [];
  const owners = opts.noOwner ? [] : (m.roles?.owners ?? []);
  const r = await client.query<{ missing_roles: string[] | null; not_member: string[] | null; missing_deps: number[] | null; superuser: boolean }>(
    `SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser,
            (SELECT array_agg(x ORDER BY x) FROM unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = x)) AS missing_roles,
            -- (by oid, joined to pg_roles: pg_has_role by name would fail on a missing role)
            (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) x JOIN pg_catalog.pg_roles ro ON ro.rolname = x
              WHERE NOT pg_catalog.pg_has_role(current_user, ro.oid, 'MEMBER')) AS not_member,
            (SELECT array_agg(i ORDER BY i) FROM unnest($3::text[], $4::text[]) WITH ORDINALITY d(kind, name, i)
              WHERE CASE WHEN d.kind IN ('function', 'procedure', 'aggregate') THEN pg_catalog.to_regprocedure(d.name) IS NULL
                         WHEN d.kind IN ('table', 'view', 'materialized view', 'sequence', 'foreign table') THEN pg_catalog.to_regclass(d.name) IS NULL
                         WHEN d.kind IN ('type', 'domain') THEN pg_catalog.to_regtype(d.name) IS NULL
                         ELSE false END) AS missing_deps`,
    [roles, owners, deps.map((d) => d.kind), deps.map((d) => d.name)],
  );
  const row = r.rows[0];
  const out: string[] = [];
  for (const role of row.missing_roles ?? []) out.push(`role ${role}${roleUse(m, role, opts)}`);
  for (const i of row.missing_deps ?? []) {
    const d = deps[Number(i) - 1];
    out.push(`${d.kind} ${d.name} used by ${d.usedBy[0]}${d.usedBy.length > 1 ? ` and ${d.usedBy.length - 1} more` : ''}`);
  }
  if (row.not_member?.length) out.push(`the right to give objects to ${row.not_member.join(', ')} (the restoring role is not a member)`);
  if (!row.superuser) {
    const need = [...m.entries.filter((e) => SUPERUSER_KINDS.has(e.kind)).map((e) => `${e.kind.toLowerCase()} ${e.name}`), ...(await superuserPublications(client, m.publications ?? []))];
    if (need.length) out.push(`the superuser rights that creating ${need.slice(0, 5).join(', ')}${need.length > 5 ? ` and ${need.length - 5} more` : ''} takes (restore as a superuser)`);
  }
  return out;
}

/** Object kinds only a superuser may create (CREATE EVENT TRIGGER, FOREIGN DATA WRAPPER, ACCESS METHOD, TEXT SEARCH PARSER / TEMPLATE). */
const SUPERUSER_KINDS = new Set(['EVENT TRIGGER', 'FOREIGN DATA WRAPPER', 'ACCESS METHOD', 'TEXT SEARCH PARSER', 'TEXT SEARCH TEMPLATE']);

/**
 * The publication statements of the archive that only a superuser may run on this target (PostgreSQL
 * 15-17): CREATE PUBLICATION ... FOR ALL TABLES when the target lacks the publication (the restore
 * reuses one it has), ALTER PUBLICATION ... ADD TABLES IN SCHEMA for a schema it does not publish
 * yet. Without this check a restore by Supabase's admin role or a managed database's owner loaded
 * every table and failed at that statement, at the end.
 */
async function superuserPublications(client: pg.ClientBase, pubs: ManifestPublication[]): Promise<string[]> {
  if (!pubs.length) return [];
  const v = Number((await client.query<{ v: string }>(`SELECT pg_catalog.current_setting('server_version_num') AS v`)).rows[0].v);
  const schemas =
    v >= 150000
      ? `ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid)`
      : `'{}'::text[]`;
  const r = await client.query<{ pubname: string; schemas: string[] }>(`SELECT p.pubname, ${schemas} AS schemas FROM pg_catalog.pg_publication p WHERE p.pubname = ANY($1::text[])`, [pubs.map((p) => p.name)]);
  const have = new Map(r.rows.map((x) => [x.pubname, new Set(x.schemas)]));
  const out: string[] = [];
  for (const p of pubs) {
    const existing = have.get(p.name);
    if (p.allTables && !existing) out.push(`publication ${p.name} FOR ALL TABLES`);
    const add = p.schemas.filter((s) => !existing?.has(s));
    if (add.length) out.push(`publication ${p.name} FOR TABLES IN SCHEMA ${add.join(', ')}`);
  }
  return out;
}

function roleUse(m: Manifest, role: string, opts: Pick<RestoreOptions, 'noOwner' | 'noPrivileges'>): string {
  const uses: string[] = [];
  if (!opts.noOwner && m.roles?.owners.includes(role)) uses.push('owner');
  if (!opts.noPrivileges && m.roles?.privileges.includes(role)) uses.push('grantee');
  if (!opts.noPrivileges && !opts.noOwner && m.roles?.defaultPrivileges.includes(role)) uses.push('default privileges');
  if (m.roles?.policies.includes(role)) {
    // (the same list holds user mappings' roles: told apart by the mapping members' names)
    const mapping = m.entries.some((e) => e.kind === 'USER MAPPING' && e.name.startsWith(`USER MAPPING ${role} SERVER `));
    uses.push(mapping ? 'user mapping' : 'policy role');
  }
  return uses.length ? ` (${uses.join(', ')})` : '';
}

/**
 * Throws AppError 'incompatible' naming everything the target lacks, before anything is changed.
 * The hint says which option would make a role unnecessary.
 */
export async function checkSecurityReadiness(client: pg.ClientBase, m: Manifest, target: string, opts: Pick<RestoreOptions, 'noOwner' | 'noPrivileges'>): Promise<void> {
  const problems = await securityProblems(client, m, opts);
  if (!problems.length) return;
  const hints: string[] = [];
  if (!opts.noOwner && problems.some((p) => / \(owner|default privileges\)|the right to give/.test(p))) hints.push('--no-owner');
  if (!opts.noPrivileges && problems.some((p) => /grantee/.test(p))) hints.push('--no-privileges');
  throw new AppError(
    'incompatible',
    `target ${target} lacks ${problems.join('; ')}: nothing was changed${hints.length ? ` (create them, or restore with ${hints.join(' / ')})` : ''}`,
  );
}

/**
 * Skips the OWNER members with --no-owner and the ACL / DEFAULT ACL members with --no-privileges
 * (as pg_restore); with --no-owner also the DEFAULT ACL members of roles the target lacks (default
 * privileges belong to a role, like ownership). Returns the actions and what was left out.
 */
export async function securityActions(client: pg.ClientBase, m: Manifest, actions: MemberAction[], opts: Pick<RestoreOptions, 'noOwner' | 'noPrivileges'>): Promise<{ actions: MemberAction[]; lines: string[] }> {
  const lines: string[] = [];
  let missing = new Set<string>();
  if (opts.noOwner && !opts.noPrivileges && m.roles?.defaultPrivileges.length) {
    const r = await client.query<{ x: string }>(`SELECT x FROM unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = x)`, [m.roles.defaultPrivileges]);
    missing = new Set(r.rows.map((x) => x.x));
  }
  // Default privileges of a role the restoring role is not a member of cannot be set (PostgreSQL
  // refuses ALTER DEFAULT PRIVILEGES FOR ROLE r): a Supabase project's "postgres" and the platform's
  // supabase_admin, whose default privileges in public the new project already has. They are left
  // as the target has them, said in the plan, instead of failing the whole restore at its end.
  let foreign = new Set<string>();
  if (!opts.noPrivileges && m.roles?.defaultPrivileges.length) {
    const r = await client.query<{ x: string }>(
      `SELECT x FROM unnest($1::text[]) x JOIN pg_catalog.pg_roles ro ON ro.rolname = x WHERE NOT pg_catalog.pg_has_role(current_user, ro.oid, 'MEMBER')`,
      [m.roles.defaultPrivileges],
    );
    foreign = new Set(r.rows.map((x) => x.x));
  }
  const out = actions.map((a, i): MemberAction => {
    const e = m.entries[i];
    const skip =
      (opts.noOwner && e?.kind === 'OWNER') ||
      (opts.noPrivileges && (e?.kind === 'ACL' || e?.kind === 'DEFAULT ACL')) ||
      (e?.kind === 'DEFAULT ACL' && (missing.has(e.name) || foreign.has(e.name)));
    const where = e?.schema === null ? 'in every schema' : `in schema ${e?.schema}`;
    if (skip && e?.kind === 'DEFAULT ACL' && !opts.noPrivileges && missing.has(e.name)) lines.push(`default privileges of role ${e.name} ${where} left out (--no-owner, the target has no such role)`);
    else if (skip && e?.kind === 'DEFAULT ACL' && !opts.noPrivileges) lines.push(`default privileges of role ${e.name} ${where} left as the target has them (the restoring role is not a member of ${e.name})`);
    return skip ? { kind: 'skip' } : a;
  });
  if (opts.noOwner && m.entries.some((e) => e.kind === 'OWNER')) lines.push('owners not restored (--no-owner): everything belongs to the restoring role');
  if (opts.noPrivileges && m.entries.some((e) => e.kind === 'ACL' || e.kind === 'DEFAULT ACL')) lines.push(`privileges not restored (--no-privileges)${await targetDefaultGrants(client, m.source.schemas)}`);
  return { actions: out, lines };
}

/**
 * What the target's default privileges give the objects the restoring role creates in the
 * backed-up schemas (database-wide, or per schema), which --no-privileges leaves in place: a new
 * Supabase project gives anon ALL on every table. '' when they give nothing.
 */
async function targetDefaultGrants(client: pg.ClientBase, schemas: string[]): Promise<string> {
  const r = await client.query<{ l: string }>(
    `SELECT kind || ': ' || string_agg(privs || ' to ' || grantees, ', ' ORDER BY privs) AS l FROM (
       SELECT kind, ord, privs, string_agg(grantee, ', ' ORDER BY grantee) AS grantees FROM (
         SELECT CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' ELSE 'schemas' END AS kind,
                pg_catalog.strpos('rSfTn', d.defaclobjtype::text) AS ord,
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS grantee,
                CASE WHEN pg_catalog.array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type) @> (
                       SELECT pg_catalog.array_agg(DISTINCT f.privilege_type ORDER BY f.privilege_type)
                         FROM pg_catalog.aclexplode(pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)) f
                        WHERE f.grantee = d.defaclrole)
                     THEN 'ALL' ELSE pg_catalog.string_agg(DISTINCT a.privilege_type, ',') END AS privs
           FROM pg_catalog.pg_default_acl d, LATERAL pg_catalog.aclexplode(d.defaclacl) a
          WHERE d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AND a.grantee <> d.defaclrole
            AND (d.defaclnamespace = 0 OR d.defaclnamespace IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])))
          GROUP BY 1, 2, 3, d.defaclobjtype, d.defaclrole) g
        GROUP BY kind, ord, privs) k
      GROUP BY kind, ord ORDER BY ord`,
    [schemas],
  );
  return r.rows.length ? `: the target's default privileges give the restored objects instead: ${r.rows.map((x) => x.l).join('; ')}` : '';
}

/**
 * The security part of a whole-backup plan (fresh, replace): readiness check, the actions as the
 * options say, and referenced tables outside the schemas (auth.users): loaded only into an EMPTY
 * table of the target; one that has rows is left alone (and not compared), with a plan line.
 * Returns the actions, plan lines and the tables to load and verify.
 */
export async function planSecurity(
  client: pg.ClientBase,
  m: Manifest,
  target: string,
  actions: MemberAction[],
  opts: Pick<RestoreOptions, 'noOwner' | 'noPrivileges'>,
): Promise<{ actions: MemberAction[]; lines: string[]; tables: ManifestTable[] }> {
  await checkSecurityReadiness(client, m, target, opts);
  const sec = await securityActions(client, m, actions, opts);
  const referenced = m.tables.filter((t) => t.referenced && !t.dataExcluded);
  const busy = new Set<ManifestTable>();
  for (const t of referenced) {
    // checkSecurityReadiness made sure the table exists (it is an external dependency).
    const r = await client.query<{ has: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}) AS has`);
    if (r.rows[0].has) busy.add(t);
    sec.lines.push(r.rows[0].has ? `${t.schema}.${t.name} already has rows: its ${t.rows} backed-up rows are not loaded` : `load ${t.rows} rows of ${t.schema}.${t.name} (outside the backup, referenced by it) into the target's table`);
  }
  const skip = new Set(m.entries.filter((e) => e.section === 'table-data' && [...busy].some((t) => t.schema === e.schema && t.name === e.name)).map((e) => e.index));
  return { actions: sec.actions.map((a, i) => (skip.has(i) ? { kind: 'skip' } : a)), lines: sec.lines, tables: m.tables.filter((t) => !busy.has(t)) };
}
