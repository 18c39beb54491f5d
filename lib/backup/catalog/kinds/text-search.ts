import { qualifiedName, quoteIdent } from '../quote-ident';
import { catalogKey, notExtensionMember, PG_TS_CONFIG, PG_TS_DICT, PG_TS_PARSER, PG_TS_TEMPLATE, type KindBuilder } from './kind-types';
import { ownerStatement } from '../acl';

/** Text search parsers, templates, dictionaries and configurations created in the dumped schemas. */
export interface TsParserRow { oid: number; nspname: string; name: string; start: string; token: string; end: string; headline: string | null; lextype: string }
export interface TsTemplateRow { oid: number; nspname: string; name: string; init: string | null; lexize: string }
export interface TsDictRow { oid: number; nspname: string; name: string; owner: string; template: string; options: string | null }
export interface TsConfigRow { oid: number; nspname: string; name: string; owner: string; parser: string; mappings: { token: string; dicts: string[] }[] | null }
export interface TextSearchRows { parsers: TsParserRow[]; templates: TsTemplateRow[]; dicts: TsDictRow[]; configs: TsConfigRow[] }

const nsWhere = (alias: string, nsCol: string, cls: string) =>
  `JOIN pg_catalog.pg_namespace n ON n.oid = ${alias}.${nsCol} WHERE n.nspname = ANY($1::text[]) AND ${notExtensionMember(cls, `${alias}.oid`)}`;
const qn = (nsCol: string, nameCol: string) => `pg_catalog.quote_ident(${nsCol}) || '.' || pg_catalog.quote_ident(${nameCol})`;

/** Rows of these kinds ($1: the dumped schemas), read by kinds/index.ts in its one query. */
export const TS_PARSERS_SQL = `SELECT x.oid::int AS oid, n.nspname, x.prsname AS name, x.prsstart::pg_catalog.regproc::text AS start, x.prstoken::pg_catalog.regproc::text AS token,
            x.prsend::pg_catalog.regproc::text AS end, CASE WHEN x.prsheadline <> 0 THEN x.prsheadline::pg_catalog.regproc::text END AS headline,
            x.prslextype::pg_catalog.regproc::text AS lextype
       FROM pg_catalog.pg_ts_parser x ${nsWhere('x', 'prsnamespace', 'pg_catalog.pg_ts_parser')} ORDER BY 2, 3`;

export const TS_TEMPLATES_SQL = `SELECT x.oid::int AS oid, n.nspname, x.tmplname AS name, CASE WHEN x.tmplinit <> 0 THEN x.tmplinit::pg_catalog.regproc::text END AS init,
            x.tmpllexize::pg_catalog.regproc::text AS lexize
       FROM pg_catalog.pg_ts_template x ${nsWhere('x', 'tmplnamespace', 'pg_catalog.pg_ts_template')} ORDER BY 2, 3`;

export const TS_DICTS_SQL = `SELECT x.oid::int AS oid, n.nspname, x.dictname AS name, pg_catalog.pg_get_userbyid(x.dictowner) AS owner,
            (SELECT ${qn('tn.nspname', 't.tmplname')} FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace WHERE t.oid = x.dicttemplate) AS template,
            x.dictinitoption AS options
       FROM pg_catalog.pg_ts_dict x ${nsWhere('x', 'dictnamespace', 'pg_catalog.pg_ts_dict')} ORDER BY 2, 3`;

export const TS_CONFIGS_SQL = `SELECT x.oid::int AS oid, n.nspname, x.cfgname AS name, pg_catalog.pg_get_userbyid(x.cfgowner) AS owner,
            (SELECT ${qn('pn.nspname', 'pr.prsname')} FROM pg_catalog.pg_ts_parser pr JOIN pg_catalog.pg_namespace pn ON pn.oid = pr.prsnamespace WHERE pr.oid = x.cfgparser) AS parser,
            (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('token', tt.alias, 'dicts', m.dicts) ORDER BY m.maptokentype)
               FROM (SELECT mm.maptokentype, array_agg(mm.mapdict::pg_catalog.regdictionary::text ORDER BY mm.mapseqno) AS dicts
                       FROM pg_catalog.pg_ts_config_map mm WHERE mm.mapcfg = x.oid GROUP BY mm.maptokentype) m
               JOIN pg_catalog.ts_token_type(x.cfgparser) tt ON tt.tokid = m.maptokentype) AS mappings
       FROM pg_catalog.pg_ts_config x ${nsWhere('x', 'cfgnamespace', 'pg_catalog.pg_ts_config')} ORDER BY 2, 3`;

export function textSearchOids(r: TextSearchRows): number[] {
  return [...r.parsers, ...r.templates, ...r.dicts, ...r.configs].map((x) => x.oid);
}

export function buildTextSearch(r: TextSearchRows, b: KindBuilder): void {
  for (const x of r.parsers) {
    const q = qualifiedName(x.nspname, x.name);
    const p = [`START = ${x.start}`, `GETTOKEN = ${x.token}`, `END = ${x.end}`, ...(x.headline ? [`HEADLINE = ${x.headline}`] : []), `LEXTYPES = ${x.lextype}`];
    const node = b.add({ section: 'pre-data', kind: 'TEXT SEARCH PARSER', schema: x.nspname, name: x.name, sql: `CREATE TEXT SEARCH PARSER ${q} (\n    ${p.join(',\n    ')} );\n` }, 14, catalogKey(PG_TS_PARSER, x.oid));
    b.comment(node, `TEXT SEARCH PARSER ${q}`, PG_TS_PARSER, x.oid);
  }
  for (const x of r.templates) {
    const q = qualifiedName(x.nspname, x.name);
    const p = [...(x.init ? [`INIT = ${x.init}`] : []), `LEXIZE = ${x.lexize}`];
    const node = b.add({ section: 'pre-data', kind: 'TEXT SEARCH TEMPLATE', schema: x.nspname, name: x.name, sql: `CREATE TEXT SEARCH TEMPLATE ${q} (\n    ${p.join(',\n    ')} );\n` }, 15, catalogKey(PG_TS_TEMPLATE, x.oid));
    b.comment(node, `TEXT SEARCH TEMPLATE ${q}`, PG_TS_TEMPLATE, x.oid);
  }
  for (const x of r.dicts) {
    const q = qualifiedName(x.nspname, x.name);
    // dictinitoption is already `key = 'value', ...` as the server stored it.
    const sql = `CREATE TEXT SEARCH DICTIONARY ${q} (\n    TEMPLATE = ${x.template}${x.options ? `,\n    ${x.options}` : ''} );\n`;
    const node = b.add({ section: 'pre-data', kind: 'TEXT SEARCH DICTIONARY', schema: x.nspname, name: x.name, sql }, 16, catalogKey(PG_TS_DICT, x.oid));
    b.comment(node, `TEXT SEARCH DICTIONARY ${q}`, PG_TS_DICT, x.oid);
    b.security(node, { owner: { sql: ownerStatement('TEXT SEARCH DICTIONARY', q, x.owner), role: x.owner } });
  }
  for (const x of r.configs) {
    const q = qualifiedName(x.nspname, x.name);
    let sql = `CREATE TEXT SEARCH CONFIGURATION ${q} (\n    PARSER = ${x.parser} );\n`;
    for (const m of x.mappings ?? []) sql += `ALTER TEXT SEARCH CONFIGURATION ${q}\n    ADD MAPPING FOR ${quoteIdent(m.token)} WITH ${m.dicts.join(', ')};\n`;
    const node = b.add({ section: 'pre-data', kind: 'TEXT SEARCH CONFIGURATION', schema: x.nspname, name: x.name, sql }, 17, catalogKey(PG_TS_CONFIG, x.oid));
    b.comment(node, `TEXT SEARCH CONFIGURATION ${q}`, PG_TS_CONFIG, x.oid);
    b.security(node, { owner: { sql: ownerStatement('TEXT SEARCH CONFIGURATION', q, x.owner), role: x.owner } });
  }
}
