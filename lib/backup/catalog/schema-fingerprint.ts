import type pg from 'pg';
import { COLUMN_SETTINGS_PREFIX } from './column-settings';
import { SEQUENCE_VALUE_PREFIX } from './sequence-values';

/**
 * A catalog fingerprint of the backed-up schemas: one short hash per object (relation with its
 * columns and column privileges, constraint, index, trigger, policy, routine, type, the schema
 * itself, per-schema default privileges, publication membership, DEPENDS ON EXTENSION marks), each over its definition as the
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
/** An extension's member (the object itself, not a sub-object). */
const EXT_MEMBER = (cls: string, col: string) =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${cls}'::pg_catalog.regclass AND d.objid = ${col} AND d.objsubid = 0 AND d.deptype = 'e')`;
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

const NAME = (nsp: string, name: string) => `pg_catalog.quote_ident(${nsp}) || '.' || pg_catalog.quote_ident(${name})`;
const NSP = (oid: string) => `(SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = ${oid})`;
/**
 * The comment of an object (of a column: `COL_DESC`): what pg_catalog.obj_description(oid, 'cls')
 * and col_description(rel, attnum) return, read by an index scan of pg_description in the query
 * itself instead of a call of those SQL functions per object (30,000 calls on a 5,000-table
 * catalog: ~0.25 s of server CPU). The same text, so the same hashes as before.
 */
const DESC = (oid: string, cls: string, sub = '0') =>
  `(SELECT dsc.description FROM pg_catalog.pg_description dsc WHERE dsc.objoid = ${oid} AND dsc.classoid = 'pg_catalog.${cls}'::pg_catalog.regclass AND dsc.objsubid = ${sub})`;
const COL_DESC = (rel: string, attnum: string) => DESC(rel, 'pg_class', attnum);
const USER_OBJ = (cls: string, col: string) => `${col} >= 16384 AND ${NOT_EXT(`pg_catalog.${cls}`, col)}`;

/**
 * Format 2 also fingerprints the kinds of catalog/kinds (collations, statistics objects, operators
 * with classes and families, casts, conversions, text search, event triggers, foreign data,
 * access methods, transforms, extensions in the schemas, publications), each selected as the
 * dumper selects it, so a drill sees one the restore lost. Locale strings, extension versions and
 * statistics definitions are in the deparsed half (another major version, or another ICU, may
 * print them differently).
 */
const KINDS = (v15: boolean) => `
UNION ALL
SELECT 'collation ' || ${NAME('n.nspname', 'x.collname')},
       concat_ws(' | ', x.collprovider, x.collisdeterministic, pg_catalog.pg_get_userbyid(x.collowner), ${DESC('x.oid', 'pg_collation')}),
       (pg_catalog.to_jsonb(x) - ARRAY['oid', 'collversion', 'collnamespace', 'collowner'])::text
  FROM pg_catalog.pg_collation x JOIN pg_catalog.pg_namespace n ON n.oid = x.collnamespace WHERE ${IN_SCHEMAS('n.oid')} AND ${NOT_EXT('pg_catalog.pg_collation', 'x.oid')}
UNION ALL
SELECT 'statistics ' || ${NAME('n.nspname', 'x.stxname')},
       concat_ws(' | ', x.stxrelid::pg_catalog.regclass, x.stxkind::text, x.stxkeys::text, CASE WHEN x.stxstattarget >= 0 THEN 'target ' || x.stxstattarget::text END, pg_catalog.pg_get_userbyid(x.stxowner), ${DESC('x.oid', 'pg_statistic_ext')}),
       pg_catalog.pg_get_statisticsobjdef(x.oid)
  FROM pg_catalog.pg_statistic_ext x JOIN pg_catalog.pg_namespace n ON n.oid = x.stxnamespace WHERE ${IN_SCHEMAS('n.oid')}
UNION ALL
SELECT 'operator ' || o.oid::pg_catalog.regoperator::text,
       concat_ws(' | ', o.oprkind, o.oprcode::pg_catalog.regprocedure, o.oprcom::pg_catalog.regoperator, o.oprnegate::pg_catalog.regoperator,
                 o.oprrest::pg_catalog.regproc, o.oprjoin::pg_catalog.regproc, o.oprcanmerge, o.oprcanhash, pg_catalog.pg_get_userbyid(o.oprowner), ${DESC('o.oid', 'pg_operator')}), NULL
  FROM pg_catalog.pg_operator o WHERE ${IN_SCHEMAS('o.oprnamespace')} AND ${NOT_EXT('pg_catalog.pg_operator', 'o.oid')}
UNION ALL
SELECT 'operator family ' || ${NAME(NSP('f.opfnamespace'), 'f.opfname')} || ' using ' || a.amname,
       concat_ws(' | ', pg_catalog.pg_get_userbyid(f.opfowner), ${DESC('f.oid', 'pg_opfamily')},
                 (SELECT string_agg(x, ', ' ORDER BY x) FROM (SELECT ao.amopstrategy::text || ' ' || ao.amopopr::pg_catalog.regoperator::text || ' ' || ao.amoppurpose::text || ' '
                         || coalesce((SELECT sf.opfname::text FROM pg_catalog.pg_opfamily sf WHERE sf.oid = ao.amopsortfamily), '') AS x
                    FROM pg_catalog.pg_amop ao WHERE ao.amopfamily = f.oid) y),
                 (SELECT string_agg(x, ', ' ORDER BY x) FROM (SELECT ap.amprocnum::text || ' ' || ap.amproclefttype::pg_catalog.regtype::text || ' ' || ap.amprocrighttype::pg_catalog.regtype::text
                         || ' ' || ap.amproc::pg_catalog.regprocedure::text AS x FROM pg_catalog.pg_amproc ap WHERE ap.amprocfamily = f.oid) y)), NULL
  FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod WHERE ${IN_SCHEMAS('f.opfnamespace')} AND ${NOT_EXT('pg_catalog.pg_opfamily', 'f.oid')}
UNION ALL
SELECT 'operator class ' || ${NAME(NSP('c.opcnamespace'), 'c.opcname')} || ' using ' || a.amname,
       concat_ws(' | ', c.opcintype::pg_catalog.regtype, c.opcdefault, c.opckeytype::pg_catalog.regtype, ${NAME(NSP('f.opfnamespace'), 'f.opfname')},
                 pg_catalog.pg_get_userbyid(c.opcowner), ${DESC('c.oid', 'pg_opclass')}), NULL
  FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily
 WHERE ${IN_SCHEMAS('c.opcnamespace')} AND ${NOT_EXT('pg_catalog.pg_opclass', 'c.oid')}
UNION ALL
SELECT 'cast ' || pg_catalog.format_type(c.castsource, NULL) || ' as ' || pg_catalog.format_type(c.casttarget, NULL),
       concat_ws(' | ', c.castmethod, c.castcontext, CASE WHEN c.castfunc <> 0 THEN c.castfunc::pg_catalog.regprocedure::text END, ${DESC('c.oid', 'pg_cast')}), NULL
  FROM pg_catalog.pg_cast c WHERE ${USER_OBJ('pg_cast', 'c.oid')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'i')
UNION ALL
SELECT 'conversion ' || ${NAME(NSP('c.connamespace'), 'c.conname')},
       concat_ws(' | ', pg_catalog.pg_encoding_to_char(c.conforencoding), pg_catalog.pg_encoding_to_char(c.contoencoding), c.conproc::pg_catalog.regproc, c.condefault,
                 pg_catalog.pg_get_userbyid(c.conowner), ${DESC('c.oid', 'pg_conversion')}), NULL
  FROM pg_catalog.pg_conversion c WHERE ${IN_SCHEMAS('c.connamespace')} AND ${NOT_EXT('pg_catalog.pg_conversion', 'c.oid')}
UNION ALL
SELECT 'text search parser ' || ${NAME(NSP('p.prsnamespace'), 'p.prsname')},
       concat_ws(' | ', p.prsstart::pg_catalog.regproc, p.prstoken::pg_catalog.regproc, p.prsend::pg_catalog.regproc, p.prsheadline::pg_catalog.regproc, p.prslextype::pg_catalog.regproc, ${DESC('p.oid', 'pg_ts_parser')}), NULL
  FROM pg_catalog.pg_ts_parser p WHERE ${IN_SCHEMAS('p.prsnamespace')} AND ${NOT_EXT('pg_catalog.pg_ts_parser', 'p.oid')}
UNION ALL
SELECT 'text search template ' || ${NAME(NSP('t.tmplnamespace'), 't.tmplname')},
       concat_ws(' | ', t.tmplinit::pg_catalog.regproc, t.tmpllexize::pg_catalog.regproc, ${DESC('t.oid', 'pg_ts_template')}), NULL
  FROM pg_catalog.pg_ts_template t WHERE ${IN_SCHEMAS('t.tmplnamespace')} AND ${NOT_EXT('pg_catalog.pg_ts_template', 't.oid')}
UNION ALL
SELECT 'text search dictionary ' || ${NAME(NSP('dc.dictnamespace'), 'dc.dictname')},
       concat_ws(' | ', (SELECT ${NAME(NSP('t.tmplnamespace'), 't.tmplname')} FROM pg_catalog.pg_ts_template t WHERE t.oid = dc.dicttemplate), dc.dictinitoption,
                 pg_catalog.pg_get_userbyid(dc.dictowner), ${DESC('dc.oid', 'pg_ts_dict')}), NULL
  FROM pg_catalog.pg_ts_dict dc WHERE ${IN_SCHEMAS('dc.dictnamespace')} AND ${NOT_EXT('pg_catalog.pg_ts_dict', 'dc.oid')}
UNION ALL
SELECT 'text search configuration ' || ${NAME(NSP('c.cfgnamespace'), 'c.cfgname')},
       concat_ws(' | ', (SELECT ${NAME(NSP('p.prsnamespace'), 'p.prsname')} FROM pg_catalog.pg_ts_parser p WHERE p.oid = c.cfgparser),
                 (SELECT string_agg(m.maptokentype::text || ':' || m.mapseqno::text || ':' || m.mapdict::pg_catalog.regdictionary::text, ',' ORDER BY m.maptokentype, m.mapseqno)
                    FROM pg_catalog.pg_ts_config_map m WHERE m.mapcfg = c.oid),
                 pg_catalog.pg_get_userbyid(c.cfgowner), ${DESC('c.oid', 'pg_ts_config')}), NULL
  FROM pg_catalog.pg_ts_config c WHERE ${IN_SCHEMAS('c.cfgnamespace')} AND ${NOT_EXT('pg_catalog.pg_ts_config', 'c.oid')}
UNION ALL
SELECT 'event trigger ' || pg_catalog.quote_ident(e.evtname),
       concat_ws(' | ', e.evtevent, e.evtfoid::pg_catalog.regprocedure, e.evtenabled, e.evttags::text, pg_catalog.pg_get_userbyid(e.evtowner), ${DESC('e.oid', 'pg_event_trigger')}), NULL
  FROM pg_catalog.pg_event_trigger e WHERE ${USER_OBJ('pg_event_trigger', 'e.oid')}
UNION ALL
SELECT 'foreign data wrapper ' || pg_catalog.quote_ident(w.fdwname),
       concat_ws(' | ', w.fdwhandler::pg_catalog.regproc, w.fdwvalidator::pg_catalog.regproc, w.fdwoptions::text, ${OWNER_ACL2('w.fdwowner', 'w.fdwacl', `'F'`)}, ${DESC('w.oid', 'pg_foreign_data_wrapper')}), NULL
  FROM pg_catalog.pg_foreign_data_wrapper w WHERE ${USER_OBJ('pg_foreign_data_wrapper', 'w.oid')}
UNION ALL
SELECT 'server ' || pg_catalog.quote_ident(s.srvname),
       concat_ws(' | ', (SELECT w.fdwname FROM pg_catalog.pg_foreign_data_wrapper w WHERE w.oid = s.srvfdw), s.srvtype, s.srvversion, s.srvoptions::text,
                 ${OWNER_ACL2('s.srvowner', 's.srvacl', `'S'`)}, ${DESC('s.oid', 'pg_foreign_server')},
                 (SELECT string_agg(x, ',' ORDER BY x) FROM (SELECT CASE WHEN u.umuser = 0 THEN 'PUBLIC' ELSE u.usename::text END AS x FROM pg_catalog.pg_user_mappings u WHERE u.srvid = s.oid) y)), NULL
  FROM pg_catalog.pg_foreign_server s WHERE ${USER_OBJ('pg_foreign_server', 's.oid')}
UNION ALL
SELECT 'foreign table ' || f.ftrelid::pg_catalog.regclass::text,
       concat_ws(' | ', (SELECT s.srvname FROM pg_catalog.pg_foreign_server s WHERE s.oid = f.ftserver), f.ftoptions::text,
                 (SELECT string_agg(a.attname || '=' || a.attfdwoptions::text, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = f.ftrelid AND a.attnum > 0 AND NOT a.attisdropped AND a.attfdwoptions IS NOT NULL)), NULL
  FROM pg_catalog.pg_foreign_table f JOIN pg_catalog.pg_class c ON c.oid = f.ftrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
UNION ALL
SELECT 'access method ' || pg_catalog.quote_ident(a.amname), concat_ws(' | ', a.amtype, a.amhandler::pg_catalog.regproc, ${DESC('a.oid', 'pg_am')}), NULL
  FROM pg_catalog.pg_am a WHERE ${USER_OBJ('pg_am', 'a.oid')}
UNION ALL
SELECT 'transform ' || pg_catalog.format_type(t.trftype, NULL) || ' language ' || l.lanname,
       concat_ws(' | ', t.trffromsql::pg_catalog.regprocedure, t.trftosql::pg_catalog.regprocedure, ${DESC('t.oid', 'pg_transform')}), NULL
  FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang WHERE ${USER_OBJ('pg_transform', 't.oid')}
UNION ALL
SELECT 'extension ' || pg_catalog.quote_ident(e.extname), concat_ws(' | ', pg_catalog.quote_ident(${NSP('e.extnamespace')}), ${DESC('e.oid', 'pg_extension')}), e.extversion
  FROM pg_catalog.pg_extension e WHERE ${IN_SCHEMAS('e.extnamespace')}
UNION ALL
SELECT 'publication ' || pg_catalog.quote_ident(p.pubname),
       concat_ws(' | ', p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot, pg_catalog.pg_get_userbyid(p.pubowner), ${DESC('p.oid', 'pg_publication')}
                 ${v15 ? `, (SELECT string_agg(n.nspname, ',' ORDER BY n.nspname) FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid
                             WHERE pn.pnpubid = p.oid AND ${IN_SCHEMAS('n.oid')})` : ''}), NULL
  FROM pg_catalog.pg_publication p
 WHERE p.puballtables OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
                                  WHERE pr.prpubid = p.oid AND ${IN_SCHEMAS('c.relnamespace')})
       ${v15 ? `OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn WHERE pn.pnpubid = p.oid AND ${IN_SCHEMAS('pn.pnnspid')})` : ''}
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
  `pg_catalog.pg_get_userbyid(${owner}), CASE WHEN ${acl} IS NULL THEN NULL
     WHEN ${ACL_ITEMS(acl)} IS DISTINCT FROM ${ACL_ITEMS(`pg_catalog.acldefault(${type}, ${owner})`)} THEN ${ACL_ITEMS(acl)}::text END`;
const ACL_RAW = (owner: string, acl: string, type: string) =>
  `'acl ' || CASE WHEN ${acl} IS NULL THEN '' WHEN (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(${acl}) x)
     IS DISTINCT FROM (SELECT pg_catalog.array_agg(x::text ORDER BY x::text) FROM unnest(pg_catalog.acldefault(${type}, ${owner})) x) THEN ${acl}::text ELSE '' END`;

/**
 * Key prefix of a domain's NOT NULL constraint: PostgreSQL 17 keeps it in pg_constraint (named, e.g.
 * 'phone_not_null'), 15 only as the type's typnotnull, which the type's own entry covers. Compared
 * within one major version; across versions it exists on one side only and is left out (a backup
 * of 15 drilled on 17 failed with "constraint domain s.phone phone_not_null was not in the backup").
 * Fingerprints recorded before had it as 'constraint domain <type> <name>': read as the same.
 */
const NOT_NULL_DOMAIN = 'domain not-null ';
const LEGACY_NOT_NULL_DOMAIN = 'constraint domain ';

/**
 * A view's definition as the server deparses it, with '(VALUES ' and '( VALUES ' read alike (format 3): a view
 * made as `CREATE VIEW v (a, b) AS VALUES …` deparses to `… FROM (VALUES …) "*VALUES*"`, and that
 * text, run again (by any restore, pg_dump's too), to `… FROM ( VALUES …) "*VALUES*"`, the same
 * query. Without this a drill failed every such view on the same major version.
 */
const VIEWDEF = (oid: string, format: number) => (format >= 3 ? `pg_catalog.replace(pg_catalog.pg_get_viewdef(${oid}), '( VALUES ', '(VALUES ')` : `pg_catalog.pg_get_viewdef(${oid})`);

/**
 * A column's identity in the names-and-types half (format 3: not a partition's). PostgreSQL 17 makes
 * a partition's column an identity column when its parent's is one; 15 does not: a backup drilled
 * on the other version saw every such partition "differ". A partition's identity is in the
 * deparsed half instead (PARTITION_IDENTITY), compared on the same major version.
 */
const ATTIDENTITY = (format: number) => (format >= 3 ? `CASE WHEN c.relispartition THEN '' ELSE a.attidentity::text END` : 'a.attidentity');
const PARTITION_IDENTITY = (format: number) =>
  format >= 3
    ? `,
       CASE WHEN c.relispartition THEN (SELECT 'identity ' || string_agg(a.attname || ' ' || a.attidentity::text, ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity <> '') END`
    : '';

const QUERY = (v15: boolean, format: number) => `
SELECT 'schema ' || n.nspname AS k, concat_ws(' | ', ${OWNER_ACL2('n.nspowner', 'n.nspacl', `'n'`)}, ${DESC('n.oid', 'pg_namespace')}) AS s, NULL::text AS d
  FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1::text[])
UNION ALL
SELECT 'relation ' || c.oid::pg_catalog.regclass::text, concat_ws(' | ', c.relkind, c.relpersistence, c.reloptions::text, ${OWNER_ACL2('c.relowner', 'c.relacl', `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"`)},
       c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition,
       ${DESC('c.oid', 'pg_class')},
       (SELECT 'toast ' || tc.reloptions::text FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid),
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN (SELECT 'am ' || am.amname FROM pg_catalog.pg_am am WHERE am.oid = c.relam) END,
       CASE WHEN c.reloftype <> 0 THEN 'of ' || c.reloftype::pg_catalog.regtype::text END,
       (SELECT concat_ws(' ', 'sequence', sq.seqtypid::pg_catalog.regtype, sq.seqstart, sq.seqincrement, sq.seqmax, sq.seqmin, sq.seqcache, sq.seqcycle)
          FROM pg_catalog.pg_sequence sq WHERE sq.seqrelid = c.oid),
       (SELECT 'owned by ' || string_agg(x, ',' ORDER BY x) FROM (SELECT d.refobjid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(a.attname) AS x
          FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0) y),
       (SELECT 'inherits ' || string_agg(i.inhparent::pg_catalog.regclass::text, ',' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid),
       (SELECT string_agg(concat_ws(' ', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                ad.adbin IS NOT NULL, ${ATTIDENTITY(format)}, a.attgenerated, nullif(a.attacl::text, '{}'),
                (SELECT 'collate ' || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                   JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation),
                CASE WHEN a.attstattarget >= 0 THEN 'statistics ' || a.attstattarget::text END,
                CASE WHEN a.attstorage <> t.typstorage THEN 'storage ' || a.attstorage::text END,
                ${COL_DESC('c.oid', 'a.attnum')}), ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
          LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)),
       concat_ws(' | ', ${ACL_RAW('c.relowner', 'c.relacl', `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char"`)},
       CASE WHEN c.relkind IN ('v', 'm') THEN ${VIEWDEF('c.oid', format)} END,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
       (SELECT string_agg(a.attname || ' ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ', ' ORDER BY a.attnum)
          FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)${PARTITION_IDENTITY(format)})
  FROM pg_catalog.pg_class c WHERE ${IN_SCHEMAS('c.relnamespace')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${NOT_EXT('pg_catalog.pg_class', 'c.oid')}
UNION ALL
SELECT CASE WHEN co.conrelid = 0 AND co.contype = 'n' THEN '${NOT_NULL_DOMAIN}' || co.contypid::pg_catalog.regtype::text
            ELSE 'constraint ' || CASE WHEN co.conrelid <> 0 THEN co.conrelid::pg_catalog.regclass::text ELSE 'domain ' || co.contypid::pg_catalog.regtype::text END END || ' ' || co.conname,
       concat_ws(' | ', co.contype, CASE WHEN co.contype IN ('p', 'u', 'f') THEN pg_catalog.pg_get_constraintdef(co.oid) END, co.convalidated,
                 ${DESC('co.oid', 'pg_constraint')}),
       CASE WHEN co.contype NOT IN ('p', 'u', 'f') THEN pg_catalog.pg_get_constraintdef(co.oid) END
  FROM pg_catalog.pg_constraint co WHERE ${IN_SCHEMAS('co.connamespace')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint pc WHERE pc.oid = co.conparentid AND NOT ${IN_SCHEMAS('pc.connamespace')})
UNION ALL
SELECT 'index ' || i.indexrelid::pg_catalog.regclass::text,
       concat_ws(' | ', CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid) END, i.indisclustered, i.indisreplident,
       (SELECT 'statistics ' || string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0), ${DESC('i.indexrelid', 'pg_class')}),
       CASE WHEN i.indexprs IS NOT NULL OR i.indpred IS NOT NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid) END
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
   AND (i.indisvalid OR c.relkind = 'I')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class pi ON pi.oid = h.inhparent
                    WHERE h.inhrelid = i.indexrelid AND NOT ${IN_SCHEMAS('pi.relnamespace')})
UNION ALL
SELECT 'trigger ' || t.tgrelid::pg_catalog.regclass::text || ' ' || t.tgname,
       concat_ws(' | ', CASE WHEN t.tgqual IS NULL THEN pg_catalog.pg_get_triggerdef(t.oid) END, t.tgenabled, ${DESC('t.oid', 'pg_trigger')}),
       CASE WHEN t.tgqual IS NOT NULL THEN pg_catalog.pg_get_triggerdef(t.oid) END
  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE ${IN_SCHEMAS('c.relnamespace')} AND NOT t.tgisinternal
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger pt JOIN pg_catalog.pg_class pc ON pc.oid = pt.tgrelid
                    WHERE pt.oid = t.tgparentid AND NOT ${IN_SCHEMAS('pc.relnamespace')})
UNION ALL
SELECT 'rule ' || r.ev_class::pg_catalog.regclass::text || ' ' || r.rulename, concat_ws(' | ', r.ev_type, r.is_instead, r.ev_enabled, ${DESC('r.oid', 'pg_rewrite')}),
       pg_catalog.pg_get_ruledef(r.oid)
  FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE ${IN_SCHEMAS('c.relnamespace')} AND r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy ' || p.polrelid::pg_catalog.regclass::text || ' ' || p.polname,
       concat_ws(' | ', p.polcmd, p.polpermissive, (SELECT string_agg(pg_catalog.pg_get_userbyid(r), ',' ORDER BY pg_catalog.pg_get_userbyid(r)) FROM unnest(p.polroles) r),
                 p.polqual IS NOT NULL, p.polwithcheck IS NOT NULL, ${DESC('p.oid', 'pg_policy')}),
       concat_ws(' | ', pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
  FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
UNION ALL
SELECT 'routine ' || p.oid::pg_catalog.regprocedure::text,
       concat_ws(' | ', CASE WHEN p.prokind <> 'a' AND p.prosqlbody IS NULL THEN pg_catalog.pg_get_functiondef(p.oid) END, p.prosqlbody IS NOT NULL,
                 ${OWNER_ACL2('p.proowner', 'p.proacl', `'f'`)}, ${DESC('p.oid', 'pg_proc')}),
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
                         ${COL_DESC('t.typrelid', 'a.attnum')}), ', ' ORDER BY a.attnum)
                    FROM pg_catalog.pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
                 (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                    JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation AND t.typtype = 'd' AND t.typcollation <> 100),
                 ${DESC('t.oid', 'pg_type')}),
       t.typdefault
  FROM pg_catalog.pg_type t WHERE ${IN_SCHEMAS('t.typnamespace')} AND (t.typtype IN ('e', 'd', 'r', 'c') OR (t.typtype = 'p' AND NOT t.typisdefined))
   AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c') AND ${NOT_EXT('pg_catalog.pg_type', 't.oid')}
UNION ALL
SELECT 'default privileges ' || pg_catalog.pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '(every schema)') || ' ' || d.defaclobjtype::text, ${ACL_ITEMS('d.defaclacl')}::text, d.defaclacl::text
  FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = ANY($1::text[]) OR d.defaclnamespace = 0
UNION ALL
SELECT 'language ' || pg_catalog.quote_ident(l.lanname), ${ACL_ITEMS('l.lanacl')}::text, NULL
  FROM pg_catalog.pg_language l WHERE l.lanispl AND l.lanacl IS NOT NULL
   AND ${ACL_ITEMS('l.lanacl')} IS DISTINCT FROM ${ACL_ITEMS(`coalesce((SELECT ip.initprivs FROM pg_catalog.pg_init_privs ip WHERE ip.classoid = 'pg_catalog.pg_language'::pg_catalog.regclass AND ip.objoid = l.oid AND ip.objsubid = 0), pg_catalog.acldefault('l', l.lanowner))`)}
UNION ALL
SELECT 'extension member ' || pg_catalog.pg_describe_object(x.cls, x.oid, 0), ${ACL_ITEMS('x.acl')}::text, NULL
  -- Members only, selected in each branch: the ACL comparison below (aclexplode twice) then runs
  -- for the few extension members, not for every relation (5,000 tables: ~0.15 s of server CPU).
  FROM (SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass AS cls, p.oid, p.proacl AS acl, pg_catalog.acldefault('f', p.proowner) AS dflt
          FROM pg_catalog.pg_proc p WHERE ${IN_SCHEMAS('p.pronamespace')} AND ${EXT_MEMBER('pg_catalog.pg_proc', 'p.oid')}
        UNION ALL
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid, c.relacl, pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)
          FROM pg_catalog.pg_class c WHERE ${IN_SCHEMAS('c.relnamespace')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${EXT_MEMBER('pg_catalog.pg_class', 'c.oid')}
        UNION ALL
        SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid, t.typacl, pg_catalog.acldefault('T', t.typowner)
          FROM pg_catalog.pg_type t WHERE ${IN_SCHEMAS('t.typnamespace')} AND t.typacl IS NOT NULL AND ${EXT_MEMBER('pg_catalog.pg_type', 't.oid')}) x
   -- (privileges changed since CREATE EXTENSION, which the backup restores as pg_dump does)
 WHERE ${ACL_ITEMS('coalesce(x.acl, x.dflt)')} IS DISTINCT FROM ${ACL_ITEMS(`coalesce((SELECT ip.initprivs FROM pg_catalog.pg_init_privs ip WHERE ip.classoid = x.cls AND ip.objoid = x.oid AND ip.objsubid = 0), x.dflt)`)}
UNION ALL
SELECT 'publication ' || p.pubname || ' ' || pr.prrelid::pg_catalog.regclass::text, 'member', ${v15 ? `concat_ws(' | ', pr.prattrs::text, pg_catalog.pg_get_expr(pr.prqual, pr.prrelid))` : 'NULL'}
  FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid
  JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid WHERE ${IN_SCHEMAS('c.relnamespace')}
UNION ALL
SELECT 'depends on extension ' || o.type || ' ' || o.identity || ' ' || pg_catalog.quote_ident(e.extname), 'x', NULL
  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid, LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, 0) o
 WHERE d.deptype = 'x' AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND ${IN_SCHEMAS(`CASE d.classid
         WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = d.objid)
         WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = d.objid)
         WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid) END`)}
${KINDS(v15)}`;

/**
 * Marks a format-2 or -3 fingerprint (split hashes; FingerprintFormat). A manifest without it holds
 * format 1 (one hash per object over everything), which `schemaFingerprint(..., { format: 1 })` still
 * computes, as `{ format: 2 }` computes what manifests written before format 3 hold.
 */
export const FINGERPRINT_FORMAT_KEY = '~format';
const HASH = (x: string) => `pg_catalog.substr(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(coalesce(${x}, ''), 'UTF8')), 'hex'), 1, 16)`;

/**
 * Reads the fingerprint of `schemas` (see the module comment for the contract). Format 2 (the
 * default): each object's value is the hash of what every major version prints alike, then, when
 * the object has text the server deparses, '/' and the hash of that text. Format 1: the hash of
 * both together (what manifests written before format 2 hold).
 */
export async function schemaFingerprint(client: pg.ClientBase, schemas: string[], opts: { format?: FingerprintFormat } = {}): Promise<SchemaFingerprint> {
  const format = opts.format ?? 3;
  const v15 = Number((await client.query<{ v: string }>(`SELECT pg_catalog.current_setting('server_version_num') AS v`)).rows[0].v) >= 150000;
  // search_path '' so every deparsed name is qualified; the caller's value is put back.
  const prev = (await client.query<{ sp: string; jit: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp, pg_catalog.current_setting('jit') AS jit`)).rows[0];
  // jit off: the query's estimated cost passes jit_above_cost on a large catalog, and compiling it
  // cost more than running it (2,000 tables on PostgreSQL 15: 1.09 s with JIT, 0.39 s without).
  await client.query(`SELECT pg_catalog.set_config('search_path', '', false), pg_catalog.set_config('jit', 'off', false)`);
  let r: pg.QueryResult<{ k: string; h: string }>;
  try {
    // Each definition hashed where it is built: the same first 16 hex digits of the SHA-256 of its
    // UTF-8 text, without sending ~10 MB of definitions (a 5,000-table catalog) to be hashed here.
    r = await client.query<{ k: string; h: string }>(
      format === 1
        ? `SELECT k, ${HASH('v')} AS h FROM (${LEGACY_QUERY}) x`
        : `SELECT k, ${HASH('s')} || CASE WHEN d IS NULL OR d = '' THEN '' ELSE '/' || ${HASH('d')} END AS h FROM (${QUERY(v15, format)}) x`,
      [schemas],
    );
  } finally {
    await client.query(`SELECT pg_catalog.set_config('search_path', $1, false), pg_catalog.set_config('jit', $2, false)`, [prev.sp, prev.jit]).catch(() => undefined);
  }
  const out: SchemaFingerprint = {};
  if (format >= 2) out[FINGERPRINT_FORMAT_KEY] = String(format);
  for (const row of r.rows.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))) out[row.k] = row.h;
  return out;
}

/**
 * Fingerprint formats: 1, one hash per object; 2, split hashes (names and types / deparsed text);
 * 3 (since 2026-12-04), as 2 with a view's '( VALUES ' read as '(VALUES ' and a partition's identity
 * columns in the deparsed half. A drill computes the format its manifest recorded.
 */
export type FingerprintFormat = 1 | 2 | 3;

/** The format of a recorded fingerprint (1 for manifests written before split hashes). */
export function fingerprintFormat(fp: SchemaFingerprint): FingerprintFormat {
  const f = fp[FINGERPRINT_FORMAT_KEY];
  return f === '3' ? 3 : f === '2' ? 2 : 1;
}

/**
 * Objects whose fingerprint differs, is missing or is extra, e.g. 'relation public.t differs'.
 * `deparsed: false` (source and target of different major versions, format 2): the deparsed half
 * of each value is not compared — another major version prints the same view differently — and
 * `notCompared` counts the objects whose deparsed text was left out. Everything else (names,
 * columns and their types, owners, privileges, comments, flags) still is.
 */
const EXTENSION_MEMBER = 'extension member ';

export function fingerprintDifferences(expected: SchemaFingerprint, actual: SchemaFingerprint, opts: { deparsed?: boolean } = {}): { problems: string[]; notCompared: number } {
  const deparsed = opts.deparsed ?? true;
  const problems: string[] = [];
  let notCompared = 0;
  const half = (v: string) => (deparsed ? v : v.split('/')[0]);
  // A recorded 'constraint domain T N' that is now 'domain not-null T N' with the same hash.
  const renamed = new Set<string>();
  for (const [k, v] of Object.entries(expected)) {
    if (k === FINGERPRINT_FORMAT_KEY) continue;
    if (!deparsed && k.startsWith(NOT_NULL_DOMAIN)) continue;
    const now = k.startsWith(LEGACY_NOT_NULL_DOMAIN) && !(k in actual) ? NOT_NULL_DOMAIN + k.slice(LEGACY_NOT_NULL_DOMAIN.length) : null;
    if (now !== null && actual[now] === v) {
      renamed.add(now);
      continue;
    }
    if (!(k in actual)) problems.push(`${k} is missing`);
    else if (half(actual[k]) !== half(v)) problems.push(`${k} differs${k.startsWith(SEQUENCE_VALUE_PREFIX) ? '' : k.startsWith(COLUMN_SETTINGS_PREFIX) ? ' (a column\'s compression or n_distinct)' : ' (definition, owner or privileges)'}`);
    else if (!deparsed && (v.includes('/') || actual[k].includes('/'))) notCompared++;
  }
  // Extension members' changed privileges were fingerprinted later than the rest: a manifest written
  // before has none, and a drill of it must not fail on what its restore did reproduce.
  const hasMembers = Object.keys(expected).some((k) => k.startsWith(EXTENSION_MEMBER));
  for (const k of Object.keys(actual)) {
    if (k === FINGERPRINT_FORMAT_KEY || k in expected || renamed.has(k) || (!hasMembers && k.startsWith(EXTENSION_MEMBER)) || (!deparsed && k.startsWith(NOT_NULL_DOMAIN))) continue;
    problems.push(`${k} was not in the backup`);
  }
  return { problems, notCompared };
}
