import type pg from 'pg';

/**
 * A catalog fingerprint of the backed-up schemas: one short hash per object (relation with its
 * columns and column privileges, constraint, index, trigger, policy, routine, type, the schema
 * itself, per-schema default privileges, publication membership), each over its definition as the
 * server's deparsers print it, its owner and its ACL. Stored in the manifest at backup time (v2)
 * and compared by the drill with the restored scratch database: a difference fails the drill and
 * names the object. Oids and attribute numbers are left out (a restore renumbers them), and so are
 * a partition's constraints, indexes and triggers cloned from a parent outside the schemas (that
 * parent brings them: the drill's stand-in for it, recreated from the manifest, has none).
 *
 * Deterministic for equal catalogs whatever the session's search_path (it uses '' while it reads).
 */
export type SchemaFingerprint = Record<string, string>;

const NOT_EXT = (cls: string, col: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${cls}'::pg_catalog.regclass AND d.objid = ${col} AND d.deptype = 'e')`;
const IN_SCHEMAS = (col: string) => `${col} IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[]))`;
/**
 * Owner and ACL. An ACL that grants exactly the default privileges (an explicit copy left by
 * `REVOKE ALL ... FROM PUBLIC` on a schema or a GRANT undone by a REVOKE) reads as NULL: pg_dump
 * writes nothing for it, so a restore leaves it NULL, and the two mean the same privileges.
 */
const OWNER_ACL = (owner: string, acl: string, type: string) =>
  `pg_catalog.pg_get_userbyid(${owner}), CASE WHEN (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(${acl}) x)
     IS DISTINCT FROM (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(pg_catalog.acldefault(${type}, ${owner})) x) THEN ${acl}::text END`;

const LEGACY_QUERY = `
SELECT 'schema ' || n.nspname AS k, concat_ws(' | ', ${OWNER_ACL('n.nspowner', 'n.nspacl', `'n'`)}, pg_catalog.obj_description(n.oid, 'pg_namespace')) AS v
  FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1::text[])
UNION ALL
SELECT 'relation ' || c.oid::pg_catalog.regclass::text, concat_ws(' | ', c.relkind, c.relpersistence, c.reloptions::text, ${OWNER_ACL('c.relowner', 'c.relacl', `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"`)},
       c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
       pg_catalog.obj_description(c.oid, 'pg_class'),
       (SELECT 'toast ' || tc.reloptions::text FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid),
       (SELECT string_agg(concat_ws(' ', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, nullif(a.attacl::text, '{}'),
                pg_catalog.col_description(c.oid, a.attnum)), ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
  FROM pg_catalog.pg_class c WHERE ${IN_SCHEMAS('c.relnamespace')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${NOT_EXT('pg_catalog.pg_class', 'c.oid')}
UNION ALL
SELECT 'constraint ' || coalesce(co.conrelid::pg_catalog.regclass::text, co.contypid::pg_catalog.regtype::text) || ' ' || co.conname,
       concat_ws(' | ', pg_catalog.pg_get_constraintdef(co.oid), co.convalidated)
  FROM pg_catalog.pg_constraint co WHERE ${IN_SCHEMAS('co.connamespace')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pc WHERE pc.oid = co.conparentid AND NOT ${IN_SCHEMAS('pc.connamespace')})
UNION ALL
SELECT 'index ' || i.indexrelid::pg_catalog.regclass::text, concat_ws(' | ', pg_catalog.pg_get_indexdef(i.indexrelid), i.indisclustered,
       (SELECT 'statistics ' || string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0))
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class pi ON pi.oid = h.inhparent
                    WHERE h.inhrelid = i.indexrelid AND NOT ${IN_SCHEMAS('pi.relnamespace')})
UNION ALL
SELECT 'trigger ' || t.tgrelid::pg_catalog.regclass::text || ' ' || t.tgname, concat_ws(' | ', pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled)
  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE ${IN_SCHEMAS('c.relnamespace')} AND NOT t.tgisinternal
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger pt JOIN pg_catalog.pg_class pc ON pc.oid = pt.tgrelid
                    WHERE pt.oid = t.tgparentid AND NOT ${IN_SCHEMAS('pc.relnamespace')})
UNION ALL
SELECT 'policy ' || p.polrelid::pg_catalog.regclass::text || ' ' || p.polname,
       concat_ws(' | ', p.polcmd, p.polpermissive, (SELECT string_agg(pg_catalog.pg_get_userbyid(r), ',' ORDER BY 1) FROM unnest(p.polroles) r),
                 pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
UNION ALL
SELECT 'routine ' || p.oid::pg_catalog.regprocedure::text,
       concat_ws(' | ', CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END, ${OWNER_ACL('p.proowner', 'p.proacl', `'f'`)}, pg_catalog.obj_description(p.oid, 'pg_proc'))
  FROM pg_catalog.pg_proc p WHERE ${IN_SCHEMAS('p.pronamespace')} AND ${NOT_EXT('pg_catalog.pg_proc', 'p.oid')}
UNION ALL
SELECT 'type ' || t.oid::pg_catalog.regtype::text,
       concat_ws(' | ', t.typtype, ${OWNER_ACL('t.typowner', 't.typacl', `'T'`)}, pg_catalog.format_type(t.typbasetype, t.typtypmod),
                 (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
                 pg_catalog.obj_description(t.oid, 'pg_type'))
  FROM pg_catalog.pg_type t WHERE ${IN_SCHEMAS('t.typnamespace')} AND t.typtype IN ('e', 'd', 'r', 'c')
   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c') AND ${NOT_EXT('pg_catalog.pg_type', 't.oid')}
UNION ALL
SELECT 'default privileges ' || pg_catalog.pg_get_userbyid(d.defaclrole) || ' ' || n.nspname || ' ' || d.defaclobjtype::text, d.defaclacl::text
  FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = ANY($1::text[])
UNION ALL
SELECT 'publication ' || p.pubname || ' ' || pr.prrelid::pg_catalog.regclass::text, 'member'
  FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid
  JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
`;

/**
 * Format 2: each object as k, s (what every PostgreSQL version prints the same: names, types,
 * owners, ACLs, comments, flags, and definitions without expressions) and d (text the server
 * deparses, which another major version prints differently: view queries, CHECK and exclusion
 * constraints, index expressions and predicates, defaults and generated columns, partition bounds,
 * policy expressions, trigger WHEN, SQL-standard routine bodies).
 */
/**
 * Format 2's owner and ACL: the owner, and the ACL as a sorted list of grantor>grantee:privilege
 * entries WITHOUT the MAINTAIN privilege (PostgreSQL 17's: an owner holds it there, not on 15),
 * NULL when that equals the default's. `ACL_RAW` (in the deparsed half) is the ACL as stored, so
 * the same major version still compares MAINTAIN too.
 */
const ACL_ITEMS = (acl: string) =>
  `(SELECT pg_catalog.array_agg(x ORDER BY x) FROM (SELECT pg_catalog.pg_get_userbyid(a.grantor) || '>' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
      || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END AS x FROM pg_catalog.aclexplode(${acl}) a WHERE a.privilege_type <> 'MAINTAIN') y)`;
const OWNER_ACL2 = (owner: string, acl: string, type: string) =>
  `pg_catalog.pg_get_userbyid(${owner}), CASE WHEN ${ACL_ITEMS(acl)} IS DISTINCT FROM ${ACL_ITEMS(`pg_catalog.acldefault(${type}, ${owner})`)} THEN ${ACL_ITEMS(acl)}::text END`;
const ACL_RAW = (owner: string, acl: string, type: string) =>
  `'acl ' || CASE WHEN (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(${acl}) x)
     IS DISTINCT FROM (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(pg_catalog.acldefault(${type}, ${owner})) x) THEN ${acl}::text ELSE '' END`;

const QUERY = `
SELECT 'schema ' || n.nspname AS k, concat_ws(' | ', ${OWNER_ACL2('n.nspowner', 'n.nspacl', `'n'`)}, pg_catalog.obj_description(n.oid, 'pg_namespace')) AS s, NULL::text AS d
  FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1::text[])
UNION ALL
SELECT 'relation ' || c.oid::pg_catalog.regclass::text, concat_ws(' | ', c.relkind, c.relpersistence, c.reloptions::text, ${OWNER_ACL2('c.relowner', 'c.relacl', `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"`)},
       c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition,
       pg_catalog.obj_description(c.oid, 'pg_class'),
       (SELECT 'toast ' || tc.reloptions::text FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid),
       (SELECT string_agg(concat_ws(' ', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                ad.adbin IS NOT NULL, a.attidentity, a.attgenerated, nullif(a.attacl::text, '{}'),
                pg_catalog.col_description(c.oid, a.attnum)), ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)),
       concat_ws(' | ', ${ACL_RAW('c.relowner', 'c.relacl', `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"`)},
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
       (SELECT string_agg(a.attname || ' ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
  FROM pg_catalog.pg_class c WHERE ${IN_SCHEMAS('c.relnamespace')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${NOT_EXT('pg_catalog.pg_class', 'c.oid')}
UNION ALL
SELECT 'constraint ' || coalesce(co.conrelid::pg_catalog.regclass::text, co.contypid::pg_catalog.regtype::text) || ' ' || co.conname,
       concat_ws(' | ', co.contype, CASE WHEN co.contype IN ('p', 'u', 'f') THEN pg_catalog.pg_get_constraintdef(co.oid) END, co.convalidated,
                 pg_catalog.obj_description(co.oid, 'pg_constraint')),
       CASE WHEN co.contype NOT IN ('p', 'u', 'f') THEN pg_catalog.pg_get_constraintdef(co.oid) END
  FROM pg_catalog.pg_constraint co WHERE ${IN_SCHEMAS('co.connamespace')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pc WHERE pc.oid = co.conparentid AND NOT ${IN_SCHEMAS('pc.connamespace')})
UNION ALL
SELECT 'index ' || i.indexrelid::pg_catalog.regclass::text,
       concat_ws(' | ', CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid) END, i.indisclustered,
       (SELECT 'statistics ' || string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0), pg_catalog.obj_description(i.indexrelid, 'pg_class')),
       CASE WHEN i.indexprs IS NOT NULL OR i.indpred IS NOT NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid) END
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class pi ON pi.oid = h.inhparent
                    WHERE h.inhrelid = i.indexrelid AND NOT ${IN_SCHEMAS('pi.relnamespace')})
UNION ALL
SELECT 'trigger ' || t.tgrelid::pg_catalog.regclass::text || ' ' || t.tgname,
       concat_ws(' | ', CASE WHEN t.tgqual IS NULL THEN pg_catalog.pg_get_triggerdef(t.oid) END, t.tgenabled, pg_catalog.obj_description(t.oid, 'pg_trigger')),
       CASE WHEN t.tgqual IS NOT NULL THEN pg_catalog.pg_get_triggerdef(t.oid) END
  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE ${IN_SCHEMAS('c.relnamespace')} AND NOT t.tgisinternal
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger pt JOIN pg_catalog.pg_class pc ON pc.oid = pt.tgrelid
                    WHERE pt.oid = t.tgparentid AND NOT ${IN_SCHEMAS('pc.relnamespace')})
UNION ALL
SELECT 'rule ' || r.ev_class::pg_catalog.regclass::text || ' ' || r.rulename, concat_ws(' | ', r.ev_type, r.is_instead, r.ev_enabled, pg_catalog.obj_description(r.oid, 'pg_rewrite')),
       pg_catalog.pg_get_ruledef(r.oid)
  FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE ${IN_SCHEMAS('c.relnamespace')} AND r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy ' || p.polrelid::pg_catalog.regclass::text || ' ' || p.polname,
       concat_ws(' | ', p.polcmd, p.polpermissive, (SELECT string_agg(pg_catalog.pg_get_userbyid(r), ',' ORDER BY 1) FROM unnest(p.polroles) r),
                 p.polqual IS NOT NULL, p.polwithcheck IS NOT NULL, pg_catalog.obj_description(p.oid, 'pg_policy')),
       concat_ws(' | ', pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
UNION ALL
SELECT 'routine ' || p.oid::pg_catalog.regprocedure::text,
       concat_ws(' | ', CASE WHEN p.prokind <> 'a' AND p.prosqlbody IS NULL THEN pg_catalog.pg_get_functiondef(p.oid) END, p.prosqlbody IS NOT NULL,
                 ${OWNER_ACL2('p.proowner', 'p.proacl', `'f'`)}, pg_catalog.obj_description(p.oid, 'pg_proc')),
       CASE WHEN p.prokind <> 'a' AND p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_functiondef(p.oid) END
  FROM pg_catalog.pg_proc p WHERE ${IN_SCHEMAS('p.pronamespace')} AND ${NOT_EXT('pg_catalog.pg_proc', 'p.oid')}
UNION ALL
SELECT 'type ' || t.oid::pg_catalog.regtype::text,
       concat_ws(' | ', t.typtype, ${OWNER_ACL2('t.typowner', 't.typacl', `'T'`)}, pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull,
                 (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
                 (SELECT concat_ws(' ', 'range', r.rngsubtype::pg_catalog.regtype, r.rngmultitypid::pg_catalog.regtype,
                         (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                            JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = r.rngcollation),
                         (SELECT pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(o.opcname) FROM pg_catalog.pg_opclass o
                            JOIN pg_catalog.pg_namespace opn ON opn.oid = o.opcnamespace WHERE o.oid = r.rngsubopc),
                         r.rngcanonical::pg_catalog.regproc, r.rngsubdiff::pg_catalog.regproc) FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
                 (SELECT string_agg(concat_ws(' ', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                         (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                            JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation AND a.attcollation <> 100),
                         pg_catalog.col_description(t.typrelid, a.attnum)), ', ' ORDER BY a.attnum)
                    FROM pg_catalog.pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
                 (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                    JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation AND t.typtype = 'd' AND t.typcollation <> 100),
                 pg_catalog.obj_description(t.oid, 'pg_type')),
       t.typdefault
  FROM pg_catalog.pg_type t WHERE ${IN_SCHEMAS('t.typnamespace')} AND t.typtype IN ('e', 'd', 'r', 'c')
   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c') AND ${NOT_EXT('pg_catalog.pg_type', 't.oid')}
UNION ALL
SELECT 'default privileges ' || pg_catalog.pg_get_userbyid(d.defaclrole) || ' ' || n.nspname || ' ' || d.defaclobjtype::text, ${ACL_ITEMS('d.defaclacl')}::text, d.defaclacl::text
  FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = ANY($1::text[])
UNION ALL
SELECT 'publication ' || p.pubname || ' ' || pr.prrelid::pg_catalog.regclass::text, 'member', NULL
  FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid
  JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
`;

/**
 * Marks a format-2 fingerprint (split hashes). A manifest without it holds format 1 (one hash per
 * object over everything), which `schemaFingerprint(..., { format: 1 })` still computes.
 */
export const FINGERPRINT_FORMAT_KEY = '~format';
const HASH = (x: string) => `pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(coalesce(${x}, ''), 'UTF8')), 'hex'), 1, 16)`;

/**
 * Reads the fingerprint of `schemas` (see the module comment for the contract). Format 2 (the
 * default): each object's value is the hash of what every major version prints alike, then, when
 * the object has text the server deparses, '/' and the hash of that text. Format 1: the hash of
 * both together (what manifests written before format 2 hold).
 */
export async function schemaFingerprint(client: pg.ClientBase, schemas: string[], opts: { format?: 1 | 2 } = {}): Promise<SchemaFingerprint> {
  const format = opts.format ?? 2;
  // search_path '' so every deparsed name is qualified; the caller's value is put back.
  const prev = (await client.query<{ sp: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp`)).rows[0].sp;
  await client.query(`SELECT pg_catalog.set_config('search_path', '', false)`);
  let r: pg.QueryResult<{ k: string; h: string }>;
  try {
    // Each definition hashed where it is built: the same first 16 hex digits of the SHA-256 of its
    // UTF-8 text, without sending ~10 MB of definitions (a 5,000-table catalog) to be hashed here.
    r = await client.query<{ k: string; h: string }>(
      format === 1
        ? `SELECT k, ${HASH('v')} AS h FROM (${LEGACY_QUERY}) x`
        : `SELECT k, ${HASH('s')} || CASE WHEN d IS NULL OR d = '' THEN '' ELSE '/' || ${HASH('d')} END AS h FROM (${QUERY}) x`,
      [schemas],
    );
  } finally {
    await client.query(`SELECT pg_catalog.set_config('search_path', $1, false)`, [prev]).catch(() => undefined);
  }
  const out: SchemaFingerprint = {};
  if (format === 2) out[FINGERPRINT_FORMAT_KEY] = '2';
  for (const row of r.rows.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))) out[row.k] = row.h;
  return out;
}

/** The format of a recorded fingerprint (1 for manifests written before split hashes). */
export function fingerprintFormat(fp: SchemaFingerprint): 1 | 2 {
  return fp[FINGERPRINT_FORMAT_KEY] === '2' ? 2 : 1;
}

/**
 * Objects whose fingerprint differs, is missing or is extra, e.g. 'relation public.t differs'.
 * `deparsed: false` (source and target of different major versions, format 2): the deparsed half
 * of each value is not compared — another major version prints the same view differently — and
 * `notCompared` counts the objects whose deparsed text was left out. Everything else (names,
 * columns and their types, owners, privileges, comments, flags) still is.
 */
export function fingerprintDifferences(expected: SchemaFingerprint, actual: SchemaFingerprint, opts: { deparsed?: boolean } = {}): { problems: string[]; notCompared: number } {
  const deparsed = opts.deparsed ?? true;
  const problems: string[] = [];
  let notCompared = 0;
  const half = (v: string) => (deparsed ? v : v.split('/')[0]);
  for (const [k, v] of Object.entries(expected)) {
    if (k === FINGERPRINT_FORMAT_KEY) continue;
    if (!(k in actual)) problems.push(`${k} is missing`);
    else if (half(actual[k]) !== half(v)) problems.push(`${k} differs (definition, owner or privileges)`);
    else if (!deparsed && (v.includes('/') || actual[k].includes('/'))) notCompared++;
  }
  for (const k of Object.keys(actual)) if (k !== FINGERPRINT_FORMAT_KEY && !(k in expected)) problems.push(`${k} was not in the backup`);
  return { problems, notCompared };
}
