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

const QUERY = `
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

/** Reads the fingerprint of `schemas` (see the module comment for the contract). */
export async function schemaFingerprint(client: pg.ClientBase, schemas: string[]): Promise<SchemaFingerprint> {
  // search_path '' so every deparsed name is qualified; the caller's value is put back.
  const prev = (await client.query<{ sp: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp`)).rows[0].sp;
  await client.query(`SELECT pg_catalog.set_config('search_path', '', false)`);
  let r: pg.QueryResult<{ k: string; h: string }>;
  try {
    // Each definition hashed where it is built: the same first 16 hex digits of the SHA-256 of its
    // UTF-8 text, without sending ~10 MB of definitions (a 5,000-table catalog) to be hashed here.
    r = await client.query<{ k: string; h: string }>(
      `SELECT k, pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(coalesce(v, ''), 'UTF8')), 'hex'), 1, 16) AS h FROM (${QUERY}) x`,
      [schemas],
    );
  } finally {
    await client.query(`SELECT pg_catalog.set_config('search_path', $1, false)`, [prev]).catch(() => undefined);
  }
  const out: SchemaFingerprint = {};
  for (const row of r.rows.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))) out[row.k] = row.h;
  return out;
}

/** Objects whose fingerprint differs, is missing or is extra, e.g. 'relation public.t differs'. */
export function fingerprintDifferences(expected: SchemaFingerprint, actual: SchemaFingerprint): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(expected)) {
    if (!(k in actual)) out.push(`${k} is missing`);
    else if (actual[k] !== v) out.push(`${k} differs (definition, owner or privileges)`);
  }
  for (const k of Object.keys(actual)) if (!(k in expected)) out.push(`${k} was not in the backup`);
  return out;
}
