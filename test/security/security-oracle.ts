import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { withClient } from '../helpers/db';
import { localPgDumpMajor, serverMajor } from '../helpers/schema-round-trip';

const exec = promisify(execFile);

/**
 * The security model of schemas as an oracle sees it: `pg_dump -s -n <schema>` WITH owners and
 * privileges (and with `--no-owner` when owners may legitimately differ) on servers pg_dump can
 * read; elsewhere (PostgreSQL 17) a catalog listing of every object's owner and ACL, column ACLs,
 * per-schema default privileges and publication membership.
 */
export async function securityOf(url: string, opts: { schemas?: string[]; noOwner?: boolean } = {}): Promise<string> {
  const schemas = opts.schemas ?? ['public'];
  const pgd = await localPgDumpMajor();
  if (pgd !== null && pgd >= (await serverMajor(url))) {
    // -n takes a pattern: quoted, so mixed case, dots and quotes in a name match only that schema.
    const args = ['--schema-only', ...schemas.flatMap((s) => ['-n', `"${s.replace(/"/g, '""')}"`]), ...(opts.noOwner ? ['--no-owner'] : []), '-d', url];
    const { stdout } = await exec('pg_dump', args, { maxBuffer: 64 << 20 });
    return stdout
      .split('\n')
      .filter((l) => !/^\\(un)?restrict /.test(l) && !/^-- Dumped (from|by) /.test(l))
      .join('\n');
  }
  return securityCatalog(url, schemas, opts.noOwner ?? false);
}

/** Owners and ACLs from the catalogs (works on any version). */
export async function securityCatalog(url: string, schemas: string[], noOwner = false): Promise<string> {
  return withClient(url, async (c) => {
    await c.query(`SET search_path = ''`);
    const own = noOwner ? `''` : 'pg_get_userbyid(o.owner)';
    // ACLs printed with the owner's name replaced, so --no-owner comparisons still see grants.
    // (An ACL's entries are a set: sorted, so equal privileges in another aclitem order compare equal.)
    const item = `CASE WHEN a.grantee = o.owner THEN 'OWNER' ELSE coalesce(nullif(pg_get_userbyid(a.grantee), '-'), 'PUBLIC') END || ':' || a.privilege_type || ':' || a.is_grantable`;
    const acl = (col: string) => `(SELECT string_agg(${item}, ',' ORDER BY ${item}) FROM aclexplode(${col}) a)`;
    const rows = await c.query<{ l: string }>(
      `SELECT concat_ws(' | ', o.what, ${own}, ${acl('o.acl')}) AS l FROM (
         SELECT 'schema ' || n.nspname AS what, n.nspowner AS owner, coalesce(n.nspacl, acldefault('n', n.nspowner)) AS acl FROM pg_namespace n WHERE n.nspname = ANY($1)
         UNION ALL SELECT 'rel ' || c.oid::regclass, c.relowner, coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))
           FROM pg_class c WHERE c.relnamespace::regnamespace::text = ANY($1) AND c.relkind IN ('r','p','v','m','S','f')
         UNION ALL SELECT 'col ' || c.oid::regclass || '.' || a.attname, c.relowner, a.attacl FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relnamespace::regnamespace::text = ANY($1) AND a.attacl IS NOT NULL
         UNION ALL SELECT 'fn ' || p.oid::regprocedure, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner)) FROM pg_proc p WHERE p.pronamespace::regnamespace::text = ANY($1)
         UNION ALL SELECT 'type ' || t.oid::regtype, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner)) FROM pg_type t
           WHERE t.typnamespace::regnamespace::text = ANY($1) AND t.typtype IN ('e','d','r','c') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
         UNION ALL SELECT 'default acl ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text, 0, d.defaclacl FROM pg_default_acl d WHERE d.defaclnamespace::regnamespace::text = ANY($1)
         UNION ALL SELECT 'publication ' || p.pubname || ' ' || pr.prrelid::regclass, 0, NULL FROM pg_publication p JOIN pg_publication_rel pr ON pr.prpubid = p.oid
           WHERE pr.prrelid::regclass::text LIKE ANY (SELECT s || '.%' FROM unnest($1::text[]) s)
       ) o ORDER BY 1`,
      [schemas],
    );
    return rows.rows.map((r) => r.l).join('\n');
  });
}

/** Tables of every publication, "pub table" lines. */
export async function publicationMembers(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (await c.query<{ l: string }>(`SELECT pubname || ' ' || schemaname || '.' || tablename AS l FROM pg_publication_tables ORDER BY 1`)).rows.map((r) => r.l),
  );
}
