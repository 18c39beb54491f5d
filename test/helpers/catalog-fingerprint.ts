import pg from 'pg';

/**
 * A stable, sorted text description of everything a schema dump must reproduce, read from the
 * catalogs with the server's own deparsers (search_path '' so every name is qualified). Two
 * databases whose fingerprints are equal have the same schema as far as `pg_dump --schema-only`
 * could tell. Works on any server version (pg_dump 15 refuses PostgreSQL 17; this does not).
 *
 * Deliberately left out: oids, owners, privileges, attislocal/conislocal (how a partition got its
 * columns), dropped-column positions (columns are numbered by rank), extension members' bodies.
 * Except for the kinds of lib/backup/catalog/kinds (collations, operators, text search, casts,
 * foreign data, event triggers, large objects ...), whose owners and privileges are included.
 */
export async function catalogFingerprint(url: string, schemas?: string[]): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await c.query(`SELECT pg_catalog.set_config('search_path', '', true)`);
    const ns = schemas
      ? await c.query<{ oid: number }>(`SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])`, [schemas])
      : await c.query<{ oid: number }>(
          `SELECT oid FROM pg_catalog.pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'`,
        );
    const nsp = ns.rows.map((r) => r.oid);
    const notExt = (cls: string, col: string) =>
      `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${cls}'::regclass AND d.objid = ${col} AND d.deptype = 'e')`;
    const lines: string[] = [];
    const run = async (sql: string) => {
      const r = await c.query<{ l: string }>(sql, [nsp]);
      for (const x of r.rows) lines.push(x.l);
    };
    await run(`SELECT 'schema ' || nspname AS l FROM pg_catalog.pg_namespace WHERE oid = ANY($1::oid[])`);
    await run(`SELECT 'extension ' || e.extname || ' in ' || n.nspname AS l FROM pg_catalog.pg_extension e
                 JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extnamespace = ANY($1::oid[])`);
    await run(`SELECT concat_ws(' ', 'rel', c.oid::regclass::text, c.relkind, c.relpersistence, c.reloptions::text,
                 (SELECT 'toast=' || tc.reloptions::text FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid),
                 'rls=' || c.relrowsecurity, 'force=' || c.relforcerowsecurity, 'replident=' || c.relreplident::text,
                 CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
                 CASE WHEN c.relispartition THEN 'partition ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
                 CASE WHEN c.relkind = 'm' THEN 'populated=' || c.relispopulated END,
                 CASE WHEN c.relkind IN ('v', 'm') THEN 'def ' || pg_catalog.pg_get_viewdef(c.oid) END,
                 (SELECT 'inherits ' || string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)) AS l
                 FROM pg_catalog.pg_class c WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('r','p','v','m','f','c') AND ${notExt('pg_class', 'c.oid')}`);
    await run(`SELECT concat_ws(' ', 'col', c.oid::regclass::text,
                 row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), a.attname,
                 pg_catalog.format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'not null' END,
                 'default=' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), 'identity=' || nullif(a.attidentity::text, ''),
                 'generated=' || nullif(a.attgenerated::text, ''), 'collation=' || nullif(a.attcollation, 0)::regcollation::text,
                 'storage=' || a.attstorage::text, 'stats=' || a.attstattarget,
                 'compression=' || nullif(a.attcompression::text, ''),
                 (SELECT 'options=' || string_agg(o, ',' ORDER BY o) FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\\_attver=%')) AS l
                 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                 LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('r','p','v','m','f','c') AND a.attnum > 0 AND NOT a.attisdropped
                  AND ${notExt('pg_class', 'c.oid')}`);
    await run(`SELECT concat_ws(' ', 'constraint', coalesce(con.conrelid::regclass::text, con.contypid::regtype::text), con.conname,
                 con.contype, pg_catalog.pg_get_constraintdef(con.oid), 'valid=' || con.convalidated) AS l
                 FROM pg_catalog.pg_constraint con WHERE con.connamespace = ANY($1::oid[])`);
    await run(`SELECT concat_ws(' ', 'index', i.indexrelid::regclass::text, pg_catalog.pg_get_indexdef(i.indexrelid),
                 'clustered=' || i.indisclustered, 'valid=' || i.indisvalid, 'parent=' || (SELECT h.inhparent::regclass::text FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid),
                 (SELECT 'statistics=' || string_agg(a.attnum || ':' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = i.indexrelid AND a.attnum > 0 AND a.attstattarget >= 0)) AS l
                 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = ANY($1::oid[])
                  AND (i.indisvalid OR c.relkind = 'I')`); // pg_dump leaves out an index a failed CREATE INDEX CONCURRENTLY left invalid
    await run(`SELECT concat_ws(' ', 'function', p.oid::regprocedure::text, p.prokind,
                 CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END,
                 (SELECT concat_ws(',', a.aggtransfn, a.aggtranstype::regtype, a.aggfinalfn, a.agginitval, a.aggcombinefn, a.aggkind, a.aggsortop)
                    FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid),
                 (SELECT 'deps ' || string_agg(d.deptype::text || d.refobjid::regtype::text, ',' ORDER BY d.deptype::text || d.refobjid::regtype::text) FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_catalog.pg_type'::regclass)) AS l
                 FROM pg_catalog.pg_proc p WHERE p.pronamespace = ANY($1::oid[]) AND ${notExt('pg_proc', 'p.oid')}`);
    await run(`SELECT concat_ws(' ', 'trigger', t.tgrelid::regclass::text, t.tgname, pg_catalog.pg_get_triggerdef(t.oid), 'enabled=' || t.tgenabled::text) AS l
                 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                WHERE c.relnamespace = ANY($1::oid[]) AND NOT t.tgisinternal`);
    await run(`SELECT concat_ws(' ', 'rule', r.ev_class::regclass::text, r.rulename, pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled) AS l
                 FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
                WHERE c.relnamespace = ANY($1::oid[]) AND r.rulename <> '_RETURN'`);
    await run(`SELECT concat_ws(' ', 'policy', p.polrelid::regclass::text, p.polname, p.polcmd, p.polpermissive,
                 (SELECT string_agg(CASE WHEN x = 0 THEN 'public' ELSE x::regrole::text END, ',' ORDER BY 1) FROM unnest(p.polroles) x),
                 'using=' || pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'check=' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)) AS l
                 FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = ANY($1::oid[])`);
    await run(`SELECT concat_ws(' ', 'type', t.oid::regtype::text, t.typtype,
                 (SELECT 'labels ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
                 CASE WHEN t.typtype = 'd' THEN concat_ws(' ', 'base', pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, pg_catalog.pg_get_expr(t.typdefaultbin, 0), nullif(t.typcollation, 0)::regcollation::text) END,
                 (SELECT concat_ws(' ', 'range', r.rngsubtype::regtype, r.rngmultitypid::regtype, (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = r.rngcollation), (SELECT quote_ident(on_.nspname) || '.' || quote_ident(o.opcname) FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_namespace on_ ON on_.oid = o.opcnamespace WHERE o.oid = r.rngsubopc), r.rngcanonical, r.rngsubdiff) FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)) AS l
                 FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
                WHERE t.typnamespace = ANY($1::oid[]) AND t.typtype IN ('e','d','r','m','c') AND (t.typtype <> 'c' OR c.relkind = 'c')
                  AND ${notExt('pg_type', 't.oid')}`);
    await run(`SELECT concat_ws(' ', 'sequence', s.seqrelid::regclass::text, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
                 (SELECT 'owned ' || d.refobjid::regclass::text || '.' || d.refobjsubid || d.deptype::text FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a','i'))) AS l
                 FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = ANY($1::oid[])`);
    await run(`SELECT concat_ws(' ', 'statistics', pg_catalog.pg_get_statisticsobjdef(s.oid), 'target=' || s.stxstattarget) AS l
                 FROM pg_catalog.pg_statistic_ext s WHERE s.stxnamespace = ANY($1::oid[])`);
    await run(`SELECT concat_ws(' ', 'comment', o.type, o.identity, '=', d.description) AS l
                 FROM pg_catalog.pg_description d, LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o
                WHERE d.classoid <> 'pg_catalog.pg_am'::regclass
                  AND (o.schema IN (SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = ANY($1::oid[]))
                       OR (o.type = 'schema' AND d.objoid = ANY($1::oid[]))
                       OR (o.type = 'extension' AND d.objoid IN (SELECT oid FROM pg_catalog.pg_extension WHERE extnamespace = ANY($1::oid[]))))
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = d.classoid AND x.objid = d.objoid AND x.deptype = 'e')`);
    await objectKindLines(run, notExt);
    await c.query('COMMIT');
    return lines.sort().join('\n') + '\n';
  } finally {
    await c.end();
  }
}

/** The kinds of lib/backup/catalog/kinds: schema-scoped ones in $1's schemas, database-wide ones all user-made (oid >= 16384). */
async function objectKindLines(run: (sql: string) => Promise<void>, notExt: (cls: string, col: string) => string): Promise<void> {
  const own = (col: string) => `'owner=' || pg_catalog.pg_get_userbyid(${col})`;
  await run(`SELECT concat_ws(' ', 'collation', x.oid::regcollation::text, x.collprovider, x.collisdeterministic, x.collcollate, x.collctype,
               coalesce(to_jsonb(x)->>'colllocale', to_jsonb(x)->>'colliculocale'), to_jsonb(x)->>'collicurules', ${own('x.collowner')}) AS l
               FROM pg_catalog.pg_collation x WHERE x.collnamespace = ANY($1::oid[]) AND ${notExt('pg_collation', 'x.oid')}`);
  await run(`SELECT concat_ws(' ', 'operator', o.oid::regoperator::text, o.oprcode::regproc::text, 'com=' || nullif(o.oprcom, 0)::regoperator::text,
               'neg=' || nullif(o.oprnegate, 0)::regoperator::text, o.oprcanmerge, o.oprcanhash, o.oprrest::regproc::text, o.oprjoin::regproc::text, ${own('o.oprowner')}) AS l
               FROM pg_catalog.pg_operator o WHERE o.oprnamespace = ANY($1::oid[]) AND ${notExt('pg_operator', 'o.oid')}`);
  await run(`SELECT concat_ws(' ', 'opfamily', n.nspname, f.opfname, a.amname, ${own('f.opfowner')},
               (SELECT string_agg(concat_ws(':', o.amopstrategy, o.amopopr::regoperator::text, o.amoppurpose, o.amopsortfamily <> 0), ',' ORDER BY concat_ws(':', o.amopstrategy, o.amopopr::regoperator::text)) FROM pg_catalog.pg_amop o WHERE o.amopfamily = f.oid),
               (SELECT string_agg(concat_ws(':', p.amprocnum, p.amproclefttype::regtype::text, p.amprocrighttype::regtype::text, p.amproc::regprocedure::text), ',' ORDER BY concat_ws(':', p.amprocnum, p.amproclefttype::regtype::text, p.amprocrighttype::regtype::text)) FROM pg_catalog.pg_amproc p WHERE p.amprocfamily = f.oid)) AS l
               FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod
              WHERE f.opfnamespace = ANY($1::oid[]) AND ${notExt('pg_opfamily', 'f.oid')}`);
  await run(`SELECT concat_ws(' ', 'opclass', n.nspname, c.opcname, a.amname, c.opcintype::regtype::text, c.opcdefault, f.opfname, nullif(c.opckeytype, 0)::regtype::text, ${own('c.opcowner')}) AS l
               FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod
               JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily WHERE c.opcnamespace = ANY($1::oid[]) AND ${notExt('pg_opclass', 'c.oid')}`);
  await run(`SELECT concat_ws(' ', 'ts parser', n.nspname, p.prsname, p.prsstart::regproc::text, p.prstoken::regproc::text, p.prsend::regproc::text, p.prsheadline::regproc::text, p.prslextype::regproc::text) AS l
               FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace WHERE p.prsnamespace = ANY($1::oid[])`);
  await run(`SELECT concat_ws(' ', 'ts template', n.nspname, t.tmplname, t.tmplinit::regproc::text, t.tmpllexize::regproc::text) AS l
               FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace WHERE t.tmplnamespace = ANY($1::oid[])`);
  await run(`SELECT concat_ws(' ', 'ts dict', d.oid::regdictionary::text, t.tmplname, d.dictinitoption, ${own('d.dictowner')}) AS l
               FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_ts_template t ON t.oid = d.dicttemplate WHERE d.dictnamespace = ANY($1::oid[])`);
  await run(`SELECT concat_ws(' ', 'ts config', c.oid::regconfig::text, p.prsname, ${own('c.cfgowner')},
               (SELECT string_agg(m.maptokentype || ':' || m.mapseqno || ':' || m.mapdict::regdictionary::text, ',' ORDER BY m.maptokentype, m.mapseqno) FROM pg_catalog.pg_ts_config_map m WHERE m.mapcfg = c.oid)) AS l
               FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser WHERE c.cfgnamespace = ANY($1::oid[])`);
  await run(`SELECT concat_ws(' ', 'conversion', n.nspname, x.conname, pg_catalog.pg_encoding_to_char(x.conforencoding), pg_catalog.pg_encoding_to_char(x.contoencoding),
               x.conproc::regproc::text, x.condefault, ${own('x.conowner')}) AS l
               FROM pg_catalog.pg_conversion x JOIN pg_catalog.pg_namespace n ON n.oid = x.connamespace WHERE x.connamespace = ANY($1::oid[])`);
  await run(`SELECT concat_ws(' ', 'typed/am', c.oid::regclass::text, 'of=' || nullif(c.reloftype, 0)::regtype::text, 'am=' || a.amname) AS l
               FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_am a ON a.oid = c.relam
              WHERE c.relnamespace = ANY($1::oid[]) AND c.relkind IN ('r', 'm', 'p')`);
  await run(`SELECT concat_ws(' ', 'foreign table', f.ftrelid::regclass::text, s.srvname, f.ftoptions::text,
               (SELECT string_agg(a.attname || '=' || a.attfdwoptions::text, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a WHERE a.attrelid = f.ftrelid AND a.attfdwoptions IS NOT NULL)) AS l
               FROM pg_catalog.pg_foreign_table f JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver JOIN pg_catalog.pg_class c ON c.oid = f.ftrelid
              WHERE c.relnamespace = ANY($1::oid[])`);
  // Database-wide kinds: the user's own (oid >= 16384), never an extension's.
  const user = (cls: string, col: string) => `${col} >= 16384 AND ${notExt(cls, col)}`;
  await run(`SELECT concat_ws(' ', 'cast', c.castsource::regtype::text, c.casttarget::regtype::text, nullif(c.castfunc, 0)::regprocedure::text, c.castcontext, c.castmethod) AS l
               FROM pg_catalog.pg_cast c WHERE ${user('pg_cast', 'c.oid')} AND $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'transform', t.trftype::regtype::text, l.lanname, nullif(t.trffromsql, 0)::regprocedure::text, nullif(t.trftosql, 0)::regprocedure::text) AS l
               FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang WHERE ${user('pg_transform', 't.oid')} AND $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'access method', a.amname, a.amtype, a.amhandler::regproc::text) AS l FROM pg_catalog.pg_am a WHERE ${user('pg_am', 'a.oid')} AND $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'event trigger', e.evtname, e.evtevent, e.evtfoid::regproc::text, e.evtenabled, e.evttags::text, ${own('e.evtowner')}) AS l
               FROM pg_catalog.pg_event_trigger e WHERE ${user('pg_event_trigger', 'e.oid')} AND $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'fdw', w.fdwname, w.fdwhandler::regproc::text, w.fdwvalidator::regproc::text, w.fdwoptions::text, w.fdwacl::text, ${own('w.fdwowner')}) AS l
               FROM pg_catalog.pg_foreign_data_wrapper w WHERE ${user('pg_foreign_data_wrapper', 'w.oid')} AND $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'server', s.srvname, s.srvtype, s.srvversion, s.srvoptions::text, s.srvacl::text, ${own('s.srvowner')},
               (SELECT 'mappings ' || string_agg(CASE WHEN u.umuser = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(u.umuser) END, ',' ORDER BY u.umuser) FROM pg_catalog.pg_user_mapping u WHERE u.umserver = s.oid)) AS l
               FROM pg_catalog.pg_foreign_server s WHERE ${user('pg_foreign_server', 's.oid')} AND $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'large object', l.oid, ${own('l.lomowner')}, l.lomacl::text, pg_catalog.obj_description(l.oid, 'pg_largeobject'),
               (SELECT pg_catalog.md5(string_agg(p.data, ''::bytea ORDER BY p.pageno)) FROM pg_catalog.pg_largeobject p WHERE p.loid = l.oid)) AS l
               FROM pg_catalog.pg_largeobject_metadata l WHERE $1::oid[] IS NOT NULL`);
  await run(`SELECT concat_ws(' ', 'comment', o.type, o.identity, '=', d.description) AS l
               FROM pg_catalog.pg_description d, LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o
              WHERE d.objoid >= 16384 AND $1::oid[] IS NOT NULL AND d.classoid IN ('pg_catalog.pg_cast'::regclass, 'pg_catalog.pg_transform'::regclass,
                    'pg_catalog.pg_am'::regclass, 'pg_catalog.pg_event_trigger'::regclass, 'pg_catalog.pg_foreign_data_wrapper'::regclass,
                    'pg_catalog.pg_foreign_server'::regclass, 'pg_catalog.pg_largeobject'::regclass)`);
}
