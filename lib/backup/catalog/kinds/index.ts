import { AppError } from '../../../errors';
import { ACCESS_METHODS_SQL, buildAccessMethods, type AccessMethodRow } from './access-methods';
import { buildCasts, CASTS_SQL, type CastRow } from './casts';
import { buildCollations, COLLATIONS_SQL, type CollationRow } from './collations';
import { buildConversions, CONVERSIONS_SQL, type ConversionRow } from './conversions';
import { buildEventTriggers, EVENT_TRIGGERS_SQL, type EventTriggerRow } from './event-triggers';
import { buildForeignData, FDWS_SQL, foreignDataOids, FOREIGN_TABLES_SQL, SERVERS_SQL, USER_MAPPINGS_SQL, type ForeignDataRows } from './foreign-data';
import { FIRST_USER_OID, notExtensionMember, type CatalogQuery, type KindBuilder } from './kind-types';
import { buildOperators, OPCLASSES_SQL, OPERATORS_SQL, operatorsOids, OPFAMILIES_SQL, OPMEMBERS_SQL, type OperatorRows } from './operators';
import { buildTextSearch, textSearchOids, TS_CONFIGS_SQL, TS_DICTS_SQL, TS_PARSERS_SQL, TS_TEMPLATES_SQL, type TextSearchRows } from './text-search';
import { buildTransforms, TRANSFORMS_SQL, type TransformRow } from './transforms';

/**
 * The object kinds beyond tables, types and functions, read and built by one module each. The
 * schema dumper calls `readKinds` with its other catalog reads and `buildKinds` while it builds
 * its dependency graph; pg_depend then orders them among the rest.
 */
export interface KindRows {
  collations: CollationRow[];
  casts: CastRow[];
  conversions: ConversionRow[];
  accessMethods: AccessMethodRow[];
  transforms: TransformRow[];
  eventTriggers: EventTriggerRow[];
  operators: OperatorRows;
  textSearch: TextSearchRows;
  foreignData: ForeignDataRows;
}

/** One round trip for all of them (the dumper's query count stays fixed, whatever the catalog holds). */
export async function readKinds(q: CatalogQuery, schemas: string[]): Promise<KindRows> {
  const parts: Record<string, string> = {
    unsupported: UNSUPPORTED_SQL, collations: COLLATIONS_SQL, casts: CASTS_SQL, conversions: CONVERSIONS_SQL, accessMethods: ACCESS_METHODS_SQL,
    transforms: TRANSFORMS_SQL, eventTriggers: EVENT_TRIGGERS_SQL, operators: OPERATORS_SQL, opFamilies: OPFAMILIES_SQL, opClasses: OPCLASSES_SQL,
    opMembers: OPMEMBERS_SQL, tsParsers: TS_PARSERS_SQL, tsTemplates: TS_TEMPLATES_SQL, tsDicts: TS_DICTS_SQL, tsConfigs: TS_CONFIGS_SQL,
    fdws: FDWS_SQL, servers: SERVERS_SQL, userMappings: USER_MAPPINGS_SQL, foreignTables: FOREIGN_TABLES_SQL, extConfig: EXT_CONFIG_SQL,
  };
  // Each list as a JSON array; WITH ORDINALITY keeps each query's own ORDER BY.
  const select = Object.entries(parts)
    .map(([name, sql]) => `(SELECT COALESCE(pg_catalog.json_agg(x.r ORDER BY x.i), '[]'::pg_catalog.json) FROM (SELECT pg_catalog.row_to_json(t) AS r, pg_catalog.row_number() OVER () AS i FROM (${sql}) t) x) AS "${name}"`)
    .join(',\n');
  const [r] = await q<Record<string, never[]>>(`SELECT ${select}`, [schemas]);
  refuseUnsupported([...(r.unsupported as { what: string }[]).map((x) => x.what), ...(await extensionConfigRows(q, r.extConfig as ExtConfigRow[]))].sort());
  return {
    collations: r.collations,
    casts: r.casts,
    conversions: r.conversions,
    accessMethods: r.accessMethods,
    transforms: r.transforms,
    eventTriggers: r.eventTriggers,
    operators: { operators: r.operators, families: r.opFamilies, classes: r.opClasses, members: r.opMembers },
    textSearch: { parsers: r.tsParsers, templates: r.tsTemplates, dicts: r.tsDicts, configs: r.tsConfigs },
    foreignData: { wrappers: r.fdws, servers: r.servers, mappings: r.userMappings, tables: r.foreignTables },
  };
}

/** Catalog oids of every object these kinds create: their pg_depend rows and comments are read too. */
export function kindOids(k: KindRows): number[] {
  return [
    ...[k.collations, k.casts, k.conversions, k.accessMethods, k.transforms, k.eventTriggers].flatMap((xs: { oid: number }[]) => xs.map((x) => x.oid)),
    ...operatorsOids(k.operators),
    ...textSearchOids(k.textSearch),
    ...foreignDataOids(k.foreignData),
  ];
}

export function buildKinds(k: KindRows, b: KindBuilder): void {
  buildCollations(k.collations, b);
  buildCasts(k.casts, b);
  buildConversions(k.conversions, b);
  buildAccessMethods(k.accessMethods, b);
  buildTransforms(k.transforms, b);
  buildOperators(k.operators, b);
  buildTextSearch(k.textSearch, b);
  buildForeignData(k.foreignData, b);
  buildEventTriggers(k.eventTriggers, b);
}

/**
 * Hash-partitioned tables (in the schemas) whose key hashes by oids a restore does not keep: an
 * enum (hashed by its value's oid), a reg* value (the oid of the object it names), or an array,
 * range, multirange, domain or composite holding one — walked down from each key column's type.
 * An expression key whose operator class is polymorphic (its type unknown here) counts when any
 * column of the table is such a type. pg_dump 16+ loads these via the partition root; our restore
 * verifies each partition's rows and content in load order, which rows re-routed by new oids
 * cannot match: refused by name (test/backup/hash-partition-oids.test.ts).
 */
const OID_HASHED_KEYS_SQL = `WITH RECURSIVE keys AS (
       SELECT c.oid AS relid, CASE WHEN k.attnum <> 0 THEN 'column ' || pg_catalog.quote_ident(a.attname) ELSE 'expression ' || k.i END AS what,
              CASE WHEN k.attnum <> 0 THEN a.atttypid ELSE o.opcintype END AS typ
         FROM pg_catalog.pg_partitioned_table pt JOIN pg_catalog.pg_class c ON c.oid = pt.partrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(pt.partattrs::pg_catalog.int2[], pt.partclass::pg_catalog.oid[]) WITH ORDINALITY k(attnum, opc, i)
         JOIN pg_catalog.pg_opclass o ON o.oid = k.opc
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE pt.partstrat = 'h' AND n.nspname = ANY($1::text[])
       UNION ALL
       SELECT k.relid, k.what || ' over column ' || pg_catalog.quote_ident(a.attname), a.atttypid
         FROM (SELECT c.oid AS relid, k.i, 'expression ' || k.i AS what FROM pg_catalog.pg_partitioned_table pt JOIN pg_catalog.pg_class c ON c.oid = pt.partrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                CROSS JOIN LATERAL unnest(pt.partattrs::pg_catalog.int2[], pt.partclass::pg_catalog.oid[]) WITH ORDINALITY k(attnum, opc, i)
                 JOIN pg_catalog.pg_opclass o ON o.oid = k.opc JOIN pg_catalog.pg_type ot ON ot.oid = o.opcintype
                WHERE pt.partstrat = 'h' AND n.nspname = ANY($1::text[]) AND k.attnum = 0 AND ot.typtype = 'p') k
         JOIN pg_catalog.pg_attribute a ON a.attrelid = k.relid AND a.attnum > 0 AND NOT a.attisdropped
     ), walk(relid, what, top, typ, depth) AS (
       SELECT relid, what, typ, typ, 0 FROM keys
       UNION ALL
       SELECT w.relid, w.what, w.top, x.sub, w.depth + 1
         FROM walk w JOIN pg_catalog.pg_type t ON t.oid = w.typ
        CROSS JOIN LATERAL (SELECT t.typbasetype WHERE t.typtype = 'd'
                            UNION ALL SELECT t.typelem WHERE t.typelem <> 0
                            UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid
                            UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid
                            UNION ALL SELECT at.atttypid FROM pg_catalog.pg_attribute at
                                       WHERE t.typrelid <> 0 AND at.attrelid = t.typrelid AND at.attnum > 0 AND NOT at.attisdropped) x(sub)
        WHERE w.depth < 16
     )
     SELECT w.relid, pg_catalog.string_agg(DISTINCT w.what || ': ' || pg_catalog.format_type(w.top, NULL), ', ') AS keys
       FROM walk w JOIN pg_catalog.pg_type t ON t.oid = w.typ
      WHERE t.typtype = 'e' OR t.oid = 'pg_catalog.anyenum'::pg_catalog.regtype
         OR t.oid IN ('pg_catalog.regclass'::pg_catalog.regtype, 'pg_catalog.regtype'::pg_catalog.regtype, 'pg_catalog.regproc'::pg_catalog.regtype,
                      'pg_catalog.regprocedure'::pg_catalog.regtype, 'pg_catalog.regoper'::pg_catalog.regtype, 'pg_catalog.regoperator'::pg_catalog.regtype,
                      'pg_catalog.regconfig'::pg_catalog.regtype, 'pg_catalog.regdictionary'::pg_catalog.regtype, 'pg_catalog.regnamespace'::pg_catalog.regtype,
                      'pg_catalog.regrole'::pg_catalog.regtype, 'pg_catalog.regcollation'::pg_catalog.regtype)
      GROUP BY w.relid`;

// Kinds the dumper does not reproduce (see refuseUnsupported). Security labels: restoring one needs
// the label provider's module loaded in the target (SECURITY LABEL fails without it), which a
// schema backup can neither check nor bring; a label on an object in scope (in the schemas, or
// database-wide such as a large object or an event trigger) is refused rather than lost.
// Subscriptions: pg_dump dumps them only for superusers and without their password; restoring one
// connects to the publisher. Refused, like procedural languages and base types.
const UNSUPPORTED_SQL = `SELECT 'base type ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS what
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = ANY($1::text[]) AND t.typtype IN ('b', 'p') AND (t.typtype = 'p' OR t.typelem = 0 OR t.typlen <> -1 OR
              NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid))
        AND t.typisdefined -- a shell type (CREATE TYPE name;) is dumped as one
        AND ${notExtensionMember('pg_catalog.pg_type', 't.oid')}
     UNION ALL
     SELECT 'procedural language ' || pg_catalog.quote_ident(l.lanname) FROM pg_catalog.pg_language l
      WHERE l.oid >= 16384 AND ${notExtensionMember('pg_catalog.pg_language', 'l.oid')}
     UNION ALL
     SELECT 'foreign table partition ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
            || ' (a restore would leave its parent''s partitioned indexes invalid, as pg_dump''s does)'
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'f' AND c.relispartition
     UNION ALL
     SELECT CASE WHEN c.relispartition THEN 'partition ' ELSE 'inheritance child ' END || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(c.relname)
            || ' of ' || pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.relname) || ' (outside the backed-up schemas: its rows would be missing)'
       FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
      WHERE pn.nspname = ANY($1::text[]) AND NOT cn.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'f')
     UNION ALL
     SELECT 'table ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
            || ' partitioned by hash on an enum or reg* value (' || h.keys || '): it hashes by oids, which a restore changes, so the rows would not fit their partitions'
       FROM (${OID_HASHED_KEYS_SQL}) h JOIN pg_catalog.pg_class c ON c.oid = h.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     UNION ALL
     SELECT 'security label (provider ' || l.provider || ') on ' || pg_catalog.pg_describe_object(l.classoid, l.objoid, l.objsubid)
       FROM pg_catalog.pg_seclabel l, LATERAL pg_catalog.pg_identify_object(l.classoid, l.objoid, l.objsubid) o
      WHERE l.objoid >= ${FIRST_USER_OID} AND (o.schema IS NULL OR o.schema = ANY($1::text[]))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = l.classoid AND d.objid = l.objoid AND d.deptype = 'e')
     UNION ALL
     SELECT 'subscription ' || pg_catalog.quote_ident(s.subname) FROM pg_catalog.pg_subscription s
      WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
     ORDER BY 1`;

// An extension's configuration tables (pg_extension_config_dump) in the backed-up schemas' extensions.
const EXT_CONFIG_SQL = `SELECT e.extname, pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS q,
            coalesce(cfg.cond, '') AS cond, c.relkind = 'S' AS seq,
            CASE c.relkind WHEN 'S' THEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT') ELSE pg_catalog.has_table_privilege(c.oid, 'SELECT') END AS readable
       FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace en ON en.oid = e.extnamespace
      CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS cfg(reloid, cond)
       JOIN pg_catalog.pg_class c ON c.oid = cfg.reloid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
      WHERE en.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'S')
      ORDER BY 2`;
interface ExtConfigRow { extname: string; q: string; cond: string; seq: boolean; readable: boolean }

/**
 * An extension's configuration tables: CREATE EXTENSION makes them again with the extension's own
 * rows, and the rows matching their condition are the user's, which pg_dump carries as table data.
 * This dumper does not, so one that holds such rows (or that this role may not read, to tell) is
 * refused by name rather than restored without them. Likewise a configuration sequence that has
 * been used (is_called): pg_dump carries its value, CREATE EXTENSION starts it over, so the ids it
 * hands out next would collide with the rows that used it. One query per configuration table or
 * sequence (most databases have none).
 */
async function extensionConfigRows(q: CatalogQuery, rows: ExtConfigRow[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of rows) {
    const what = `configuration ${r.seq ? 'sequence' : 'table'} ${r.q} of extension ${r.extname}`;
    if (!r.readable) out.push(`${what} (this role may not read it, to check it holds ${r.seq ? 'its starting value' : 'no rows of your own'})`);
    else if (r.seq && (await q<{ is_called: boolean }>(`SELECT is_called FROM ${r.q}`, []))[0]?.is_called) out.push(`${what} (it has been used: CREATE EXTENSION starts it over)`);
    else if (!r.seq && (await q(`SELECT 1 FROM ONLY ${r.q} ${r.cond} LIMIT 1`, [])).length) out.push(`${what} (it holds rows of your own, which CREATE EXTENSION does not bring back)`);
  }
  return out;
}

/**
 * Object kinds the dumper does not reproduce fail the backup, naming every such object: a backup
 * that silently lacks them would restore into a database that breaks later.
 */
function refuseUnsupported(names: string[]): void {
  if (names.length) {
    throw new AppError(
      'incompatible',
      `the backup cannot reproduce ${names.length === 1 ? 'this object' : `these ${names.length} objects`}: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, and ${names.length - 10} more` : ''}; drop or move ${names.length === 1 ? 'it' : 'them'}, or back up other schemas (BACKUP_SCHEMAS)`,
      { details: { unsupported: names } },
    );
  }
}
