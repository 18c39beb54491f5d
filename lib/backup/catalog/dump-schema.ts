import type pg from 'pg';
import { AppError } from '../../errors';
import { qualifiedName, quoteLiteral } from './quote-ident';
import { readCatalog, readColumns, type Catalog, type ColumnRow, type ConstraintRow, type ExternalUse } from './read-catalog';
import type { DumpObject } from './dump-object';
import { orderObjects, type DumpNode } from './order-objects';
import { DumpGraph, groupBy } from './dump-graph';
import { buildKinds } from './kinds';
import { catalogKey, PG_CLASS } from './kinds/kind-types';
import { buildExtensions, buildSchemas } from './kinds/schemas';
import { buildTypes } from './kinds/types';
import { buildRoutines } from './kinds/routines';
import { buildSequences, sequenceLinks } from './kinds/sequences';
import { buildRelations } from './kinds/relations';
import { buildConstraints } from './kinds/constraints';
import { buildIndexes } from './kinds/indexes';
import { buildStatistics } from './kinds/statistics';
import { buildRowSecurity, buildRules, buildTriggers } from './kinds/rules-triggers';
import { buildExtensionDependencies } from './kinds/extension-dependencies';
import { runWithSourceSearchPath, searchPathWarnings, setRoutinesSearchPath } from './search-path';
import { addSecurityNodes, readSecurity, type DumpRoles, type SecurityCatalog } from './dump-security';

/**
 * Schema dumper: the DDL of the configured schemas, generated from the PostgreSQL catalogs with the
 * server's own deparsers (pg_get_*def, format_type, pg_get_expr) — no pg_dump binary. The output,
 * executed on an empty database (with the archive header, the data and `sequenceSetSql` in between),
 * recreates catalogs that `pg_dump --schema-only` prints identically to the source's.
 */

export type { DumpObject } from './dump-object';

export interface TableToCopy {
  schema: string;
  name: string;
  oid: number;
  /** COPY column order: attnum order, excluding dropped and generated (stored) columns. */
  columns: string[];
  /** pg_class.relpages, for chunk planning. */
  relpages: number;
  /** True for tables listed in opts.excludeTableData: definition kept, no rows. */
  dataExcluded: boolean;
  /** A table outside the dumped schemas whose rows are backed up because dumped tables reference it (referenced-data.ts). */
  referenced?: boolean;
  /**
   * Read by one whole-table COPY, never in ctid ranges: an index expression or predicate calls a
   * routine that finds its objects through the search_path (search-path.ts), and planning any
   * query on the table inlines it under the backup's search_path '' — `reading table … failed:
   * function sp17_norm(text) does not exist` for every table big enough to be split.
   */
  whole?: boolean;
}

export interface SequenceValue {
  schema: string;
  name: string;
  lastValue: string;
  isCalled: boolean;
}

export interface SchemaDump {
  /** All pre-data objects in dependency order, then all post-data objects in a valid order. */
  objects: DumpObject[];
  /** Every table with storage whose rows must be copied (ordinary tables and leaf partitions), by schema then name. */
  tables: TableToCopy[];
  /** Sequence values read now (inside the caller's snapshot transaction). */
  sequences: SequenceValue[];
  /** `SELECT pg_catalog.setval(...)` for every sequence, to run after the data. */
  sequenceSetSql: string;
  /**
   * Objects in the schemas that the dump does NOT reproduce (e.g. 'foreign table public.x',
   * 'collation public.c'), and dependency loops that had to be broken. Empty for a faithful dump;
   * the caller decides whether to warn or fail. (Addition to the agreed interface.)
   */
  warnings: string[];
  /** Roles the restore needs: owners, privilege grantees/grantors, policy roles (dump-security.ts). */
  roles: DumpRoles;
  /** Uses of objects outside the dumped schemas (also in `warnings`, one line each). */
  external: ExternalUse[];
  /**
   * Publications whose restore may take superuser rights: FOR ALL TABLES, or FOR TABLES IN SCHEMA
   * of dumped schemas (the manifest's `publications`; the restore preflight checks them).
   */
  publications: { name: string; allTables: boolean; schemas: string[] }[];
}

export interface DumpSchemaOptions {
  /** Schemas to dump, e.g. ['public']. Each must exist. */
  schemas: string[];
  /** Tables whose rows are not copied (definition kept), qualified without quotes: 'public.backup_runs'. */
  excludeTableData: string[];
  /**
   * A second connection in the same snapshot (an imported one, REPEATABLE READ READ ONLY), which
   * reads part of the catalog beside `client`: the privilege catalog and the columns, whose
   * functions take no lock beyond what the catalog fingerprint takes on it. The server then works
   * on two backends while this process waits. Its settings are put back as they were.
   */
  helper?: pg.ClientBase;
  /** Called once `helper`'s part is read and its settings are back (the backup then runs the fingerprint there). */
  onHelperDone?: () => void;
}

/**
 * Reads the catalogs and returns the DDL, the tables to copy and the sequence values.
 * Contract: call inside an open `REPEATABLE READ READ ONLY` transaction (one snapshot), after the
 * tables are locked (see `listTablesToLock`). Only reads (works on a read replica); it sets
 * `search_path` to '' (transaction-local) while it runs, so that the deparsers schema-qualify every
 * name, and puts the previous value back before returning. Throws AppError('not_found') for a
 * schema that does not exist, AppError('incompatible') for a server older than PostgreSQL 14 and
 * AppError('internal') when called outside a transaction.
 */
export async function dumpSchema(client: pg.ClientBase, opts: DumpSchemaOptions): Promise<SchemaDump> {
  const restore = await enterDumpSettings(client);
  let restoreHelper: (() => Promise<unknown>) | undefined;
  let dump: SchemaDump;
  try {
    // With a helper, the privilege catalog and the columns are read there while `client` reads the
    // rest; the helper is handed back as soon as its part is read. Without one, the privileges are
    // read after the catalog, on `client`.
    let securityRead: Promise<SecurityCatalog> | undefined;
    let columnsRead: Promise<ColumnRow[]> | undefined;
    let helperDone: Promise<void> | undefined;
    if (opts.helper) {
      const helper = opts.helper;
      const leave = await enterDumpSettings(helper);
      restoreHelper = leave;
      securityRead = readSecurity(helper, opts.schemas, await serverVersionNum(client));
      columnsRead = readColumns(helper, opts.schemas);
      helperDone = Promise.all([securityRead, columnsRead]).then(async () => {
        restoreHelper = undefined;
        await leave();
        opts.onHelperDone?.();
      });
      helperDone.catch(() => undefined); // its failures are those of the reads, awaited below
    }
    const cat = await readCatalog(client, opts.schemas, { columns: columnsRead });
    const missing = opts.schemas.filter((s) => !cat.schemas.some((n) => n.nspname === s));
    if (missing.length) throw new AppError('not_found', `schema ${missing.map((s) => JSON.stringify(s)).join(', ')} does not exist`);
    const warnings = [...cat.unsupported];
    const security = await (securityRead ?? readSecurity(client, opts.schemas, cat.serverVersionNum));
    // Sent now and read after the build: the server reads the sequences (5,000 of them: ~0.4 s)
    // while this process builds the objects, which needs the CPU for as long.
    const sequencesRead = readSequenceValues(client, cat);
    sequencesRead.catch(() => undefined); // awaited below; a failure is reported there
    const { objects, roles, searchPathGiven } = buildObjects(cat, warnings, security, opts.schemas);
    warnings.push(...(await searchPathWarnings(client, cat, searchPathGiven)));
    const tables = tablesToCopy(cat, opts.excludeTableData);
    const sequences = await sequencesRead;
    await helperDone;
    const sequenceSetSql = sequences
      .map((s) => `SELECT pg_catalog.setval(${quoteLiteral(qualifiedName(s.schema, s.name))}, ${s.lastValue}, ${s.isCalled});\n`)
      .join('');
    const publications = security.publications.filter((p) => p.puballtables || p.schemas.length).map((p) => ({ name: p.pubname, allTables: p.puballtables, schemas: [...p.schemas] }));
    dump = { objects, tables, sequences, sequenceSetSql, warnings, roles, external: cat.external, publications };
  } catch (e) {
    // In an aborted transaction the restore fails too; the original error is the one to report.
    await restore().catch(() => undefined);
    if (restoreHelper) await restoreHelper().catch(() => undefined);
    throw e;
  }
  await restore();
  return dump;
}

/**
 * Sets search_path '' and jit off for the rest of the transaction and answers how to put the
 * previous values back. Transaction-local, so an aborted transaction cannot leave them behind.
 * Outside a transaction they would be gone by the next statement and names would deparse
 * unqualified: that is refused. JIT off too (as the catalog fingerprint does): on a large catalog
 * the estimated cost of some catalog queries passes jit_above_cost and compiling them costs more
 * than running them (5,000 tables on PostgreSQL 15: the trigger query compiled for 35 ms to return
 * no row, the privilege query for 89 ms).
 */
async function enterDumpSettings(client: pg.ClientBase): Promise<() => Promise<unknown>> {
  const prev = await client.query<{ sp: string; jit: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp, pg_catalog.current_setting('jit') AS jit`);
  await client.query(`SELECT pg_catalog.set_config('search_path', '', true), pg_catalog.set_config('jit', 'off', true)`);
  const now = await client.query<{ sp: string }>(`SELECT pg_catalog.current_setting('search_path') AS sp`);
  if (now.rows[0].sp !== '') {
    throw new AppError('internal', 'dumpSchema must run inside a transaction (BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY)');
  }
  return () => client.query(`SELECT pg_catalog.set_config('search_path', $1, true), pg_catalog.set_config('jit', $2, true)`, [prev.rows[0].sp, prev.rows[0].jit]);
}

async function serverVersionNum(client: pg.ClientBase): Promise<number> {
  return (await client.query<{ v: number }>(`SELECT pg_catalog.current_setting('server_version_num')::int AS v`)).rows[0].v;
}

/**
 * Qualified, quoted names of the relations whose data or definition the dump reads (tables,
 * partitioned tables; LOCK TABLE refuses materialized views), for
 * `LOCK TABLE ... IN ACCESS SHARE MODE` before `dumpSchema` — as pg_dump does, so no concurrent DDL
 * can change a table between the catalog read and its COPY.
 */
export async function listTablesToLock(client: pg.ClientBase, schemas: string[]): Promise<string[]> {
  const r = await client.query<{ nspname: string; relname: string }>(
    `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY n.nspname, c.relname`,
    [schemas],
  );
  return r.rows.map((x) => qualifiedName(x.nspname, x.relname));
}

/**
 * The dump's objects, one object kind at a time (kinds/*.ts) into one dependency graph, then
 * ordered by pg_depend (order-objects.ts). The call order is the nodes' creation order, the last
 * tie-break of the ordering: changing it changes the archive.
 */
function buildObjects(cat: Catalog, warnings: string[], security: SecurityCatalog, schemas: string[]): { objects: DumpObject[]; roles: DumpRoles; searchPathGiven: Set<number> } {
  const g = new DumpGraph(cat);
  buildExtensions(g);
  buildSchemas(g);
  const kindRoles = addKinds(g);
  buildTypes(g);
  buildRoutines(g);
  const links = sequenceLinks(g);
  buildSequences(g, links);
  const rels = buildRelations(g, links);
  buildConstraints(g, rels);
  buildIndexes(g, rels);
  buildStatistics(g, rels);
  buildRules(g, rels);
  buildTriggers(g, rels);
  buildRowSecurity(g, rels);
  buildExtensionDependencies(g);
  runWithSourceSearchPath(g);
  addDependEdges(g);
  const schemaRoles = addSecurityNodes({ add: (obj) => g.add(obj), nodeFor: (classid, oid) => g.nodeFor(classid, oid), serverVersionNum: cat.serverVersionNum, schemas }, security);
  // A user mapping's role is needed by every restore, like a policy's (--no-owner / --no-privileges
  // keep the mapping): in `policies`, the roles always needed, so the preflight names a missing one
  // before anything is touched and a drill's --create-roles creates it.
  // Last: its closing node follows every post-data node, the security pass's too.
  const searchPathGiven = setRoutinesSearchPath(g);
  const mappingRoles = g.cat.kinds.foreignData.mappings.flatMap((u) => (u.role === null ? [] : [u.role]));
  const roles: DumpRoles = {
    ...schemaRoles,
    policies: [...new Set([...schemaRoles.policies, ...mappingRoles])].sort(),
    owners: [...new Set([...schemaRoles.owners, ...kindRoles.owners])].sort(),
    privileges: [...new Set([...schemaRoles.privileges, ...kindRoles.privileges])].sort(),
  };
  return { objects: orderObjects(g.nodes, warnings), roles, searchPathGiven };
}

/**
 * Collations, casts, operators, text search, foreign data, event triggers ... (kinds/index.ts),
 * through their KindBuilder. Returns the roles their OWNER / ACL objects name (added to the
 * security pass's roles).
 */
function addKinds(g: DumpGraph): { owners: Set<string>; privileges: Set<string> } {
  const kindRoles = { owners: new Set<string>(), privileges: new Set<string>() };
  buildKinds(g.cat.kinds, {
    serverVersionNum: g.cat.serverVersionNum,
    add: (obj, priority, ...keys) => {
      const node = g.add(obj, ...keys);
      node.priority = priority;
      return node;
    },
    after: (node, first) => (node as DumpNode).deps.add(first as DumpNode),
    comment: (node, target, classid, oid, subid) => g.comment(node as DumpNode, target, classid, oid, subid),
    security: (node, sec) => {
      const n = node as DumpNode;
      const name = `${n.obj.kind} ${n.obj.name}`;
      let ownerNode: DumpNode | undefined;
      if (sec.owner) {
        ownerNode = g.add({ section: 'post-data', kind: 'OWNER', schema: n.obj.schema, name, sql: sec.owner.sql });
        ownerNode.priority = 90;
        ownerNode.deps.add(n);
        kindRoles.owners.add(sec.owner.role);
      }
      if (sec.acl?.sql) {
        const a = g.add({ section: 'post-data', kind: 'ACL', schema: n.obj.schema, name, sql: sec.acl.sql });
        a.priority = 91;
        a.deps.add(n);
        if (ownerNode) a.deps.add(ownerNode);
        for (const r of sec.acl.roles) kindRoles.privileges.add(r);
      }
    },
  });
  return kindRoles;
}

/** Dependency edges from pg_depend, and the catalog keys nodes left to resolve once every node exists. */
function addDependEdges(g: DumpGraph): void {
  const partitionParent = new Map<number, number>();
  for (const r of g.cat.rels) if (r.relispartition && r.parents?.length) partitionParent.set(r.oid, r.parents[0]);
  for (const d of g.cat.depends) {
    const from = g.nodeFor(d.classid, d.objid);
    const to = g.nodeFor(d.refclassid, d.refobjid);
    if (!from || !to || from === to) continue;
    // A partition is created stand-alone; its TABLE ATTACH entry carries the parent dependency.
    if (d.classid === PG_CLASS && d.refclassid === PG_CLASS && partitionParent.get(d.objid) === d.refobjid) continue;
    // A serial sequence's OWNED BY is a separate entry; the sequence itself comes first.
    if (from.obj.kind === 'SEQUENCE' && d.deptype === 'a') continue;
    from.deps.add(to);
  }
  for (const n of g.nodes) {
    for (const k of n.pendingDeps ?? []) {
      const t = g.owner.get(k);
      if (t && t !== n) n.deps.add(t);
    }
  }
}

function tablesToCopy(cat: Catalog, excluded: string[]): TableToCopy[] {
  const ex = new Set(excluded);
  const cols = groupBy(cat.columns, (c) => c.attrelid);
  const users = new Set(cat.searchPathUsers.filter((u) => u.classid === PG_CLASS).map((u) => u.oid));
  const whole = new Set(cat.indexes.filter((ix) => users.has(ix.oid)).map((ix) => ix.indrelid));
  return cat.rels
    .filter((r) => r.relkind === 'r' && !cat.extMembers.has(catalogKey(PG_CLASS, r.oid)))
    .map((r) => ({
      schema: r.nspname,
      name: r.relname,
      oid: r.oid,
      columns: (cols.get(r.oid) ?? []).filter((c) => c.attgenerated !== 's').map((c) => c.attname),
      relpages: r.relpages,
      dataExcluded: ex.has(`${r.nspname}.${r.relname}`),
      ...(whole.has(r.oid) ? { whole: true } : {}),
    }))
    .sort((a, b) => cmp(a.schema, b.schema) || cmp(a.name, b.name));
}

async function readSequenceValues(client: pg.ClientBase, cat: Catalog): Promise<SequenceValue[]> {
  const seqs = cat.sequences.filter((s) => !cat.extMembers.has(catalogKey(PG_CLASS, s.oid))).sort((a, b) => cmp(a.nspname, b.nspname) || cmp(a.relname, b.relname));
  if (!seqs.length) return [];
  // A sequence's state is read from the relation itself. One UNION ALL of every sequence would be
  // one statement, but planning it grows quadratically (5,000 sequences: over two minutes), so
  // one SELECT per SEQUENCES_PER_QUERY sequences, each inside a savepoint rolled back right after:
  // rolling back a subtransaction releases the locks it took, so the backup does not hold one lock
  // per sequence until it ends (10,000 tables with serial ids: 20,000 locks, past stock
  // max_locks_per_transaction; pg_dump fails there). The values are read; the rollback undoes
  // nothing else (read-only). All slices go in one round trip (simple protocol: the server runs
  // the statements in turn); each slice's SELECT is the second of its four statements.
  const slices: string[] = [];
  for (let from = 0; from < seqs.length; from += SEQUENCES_PER_QUERY) {
    const sql = seqs
      .slice(from, from + SEQUENCES_PER_QUERY)
      .map((s, j) => `SELECT ${from + j} AS i, last_value::text AS v, is_called FROM ${qualifiedName(s.nspname, s.relname)}`)
      .join(' UNION ALL ');
    slices.push(`SAVEPOINT tickethub_sequences; ${sql}; ROLLBACK TO SAVEPOINT tickethub_sequences; RELEASE SAVEPOINT tickethub_sequences`);
  }
  const results = (await client.query(slices.join(';\n'))) as unknown as pg.QueryResult<{ i: number; v: string; is_called: boolean }>[];
  const values = new Map<number, { v: string; is_called: boolean }>();
  for (let k = 1; k < results.length; k += 4) for (const row of results[k].rows) values.set(row.i, row);
  return seqs.map((s, i) => ({ schema: s.nspname, name: s.relname, lastValue: values.get(i)!.v, isCalled: values.get(i)!.is_called }));
}

/** Sequences read per query (see readSequenceValues). */
const SEQUENCES_PER_QUERY = 100;

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type { ConstraintRow };
