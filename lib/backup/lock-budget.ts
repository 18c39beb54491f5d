import type pg from 'pg';
import { AppError } from '../errors';
import type { Manifest, ManifestEntry } from './manifest';

/**
 * The lock arithmetic of an atomic restore. One transaction that creates N relations holds N
 * relation locks until COMMIT (CREATE takes an ACCESS EXCLUSIVE lock on each new table, its TOAST
 * table and TOAST index, each index and sequence ...), and an object lock on each type it creates
 * (a table's row type too), each key or foreign-key constraint it adds and each large object whose
 * owner, privileges or comment it sets (measured on PostgreSQL 15: a table with a serial key, a
 * foreign key and an index holds 9 lock-table entries, 6 of them relations). The server's shared
 * lock table holds max_locks_per_transaction × (server processes + max_prepared_transactions)
 * entries for ALL sessions, where the server processes (PostgreSQL's MaxBackends) are
 * max_connections + autovacuum_max_workers + 1 + max_worker_processes + max_wal_senders; past that
 * the transaction fails with "out of shared memory" — after doing most of its work. So the restore
 * counts first and refuses before touching anything when it cannot fit.
 */

/** Locks besides the relations: schemas, types, functions locked while created, a safety margin. */
const OVERHEAD_LOCKS = 64;
/** Share of the lock table the restore may plan to use (other sessions hold locks too). */
const USABLE_SHARE = 0.9;
/** Most lock-table entries one transaction of a parallel restore takes (past this, batches only get longer, not faster). */
const MAX_BATCH_LOCKS = 1000;

/**
 * What a restore of `schemas` locks, counted on the source inside the backup's snapshot.
 * `relations`: every pg_class row in the schemas (tables, indexes, sequences, views, composite
 * types ...) plus each one's TOAST table and TOAST index, plus the new heap (and its TOAST table and
 * index) a REFRESH of each populated materialized view builds. `objects`: the other entries — every
 * type that is not a table's array type (row types, enums, domains, composites, ranges, and the
 * array types of the enums, domains, ranges and composites: ALTER TYPE ... OWNER locks both), every
 * table constraint (CHECK constraints take none; counted anyway), and every other object of the
 * schemas that the restore creates and then alters the owner of or comments on, each locked until
 * COMMIT (functions, procedures, aggregates, collations, operators and their classes and families,
 * text search objects, conversions, statistics objects), and each trigger, rule and policy with a
 * comment or security label (COMMENT ON TRIGGER ... locks the trigger). Extension members are counted too
 * (CREATE EXTENSION makes them). `counted: 2` marks this count (older manifests lack the array
 * types, routines and other objects, and the refreshed heaps: locksNeeded adds them from entries).
 */
export async function countLockedObjects(client: pg.ClientBase, schemas: string[]): Promise<{ relations: number; objects: number; counted: 2 }> {
  const r = await client.query<{ relations: string; objects: string }>(
    `WITH ns AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[]))
     SELECT (SELECT count(*) + 2 * count(*) FILTER (WHERE c.reltoastrelid <> 0)
                    + count(*) FILTER (WHERE c.relkind = 'm' AND c.relispopulated)
                    + 2 * count(*) FILTER (WHERE c.relkind = 'm' AND c.relispopulated AND c.reltoastrelid <> 0)
               FROM pg_catalog.pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns))::int8::text AS relations,
            ((SELECT count(*) FROM pg_catalog.pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns)
                 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e JOIN pg_catalog.pg_class ec ON ec.oid = e.typrelid
                                  WHERE e.typarray = t.oid AND ec.relkind <> 'c'))
             + (SELECT count(*) FROM pg_catalog.pg_constraint k WHERE k.connamespace IN (SELECT oid FROM ns) AND k.conrelid <> 0)
             + (SELECT count(DISTINCT (d.classid, d.objid)) FROM pg_catalog.pg_depend d
                 WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjid IN (SELECT oid FROM ns)
                   AND d.classid NOT IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass, 'pg_catalog.pg_constraint'::pg_catalog.regclass))
             + (SELECT count(*) FROM (SELECT classoid, objoid FROM pg_catalog.pg_description WHERE objsubid = 0
                                      UNION SELECT classoid, objoid FROM pg_catalog.pg_seclabel WHERE objsubid = 0) x
                 WHERE (x.classoid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND x.objoid IN (SELECT g.oid FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace IN (SELECT oid FROM ns)))
                    OR (x.classoid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND x.objoid IN (SELECT p.oid FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE c.relnamespace IN (SELECT oid FROM ns)))
                    OR (x.classoid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND x.objoid IN (SELECT r.oid FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE c.relnamespace IN (SELECT oid FROM ns)))))::int8::text AS objects`,
    [schemas],
  );
  return { relations: Number(r.rows[0].relations), objects: Number(r.rows[0].objects), counted: 2 };
}

/**
 * Lock-table entries a replace's DROP of `schemas` holds until COMMIT, counted on the target: DROP
 * ... CASCADE locks every object it removes, found as PostgreSQL finds them — by walking pg_depend
 * from the schemas: each relation (with its TOAST table and index), type (array types too),
 * function, constraint, column default, trigger, rule, policy, statistics object ..., and objects
 * outside the schemas that depend on them (a replace with --cascade drops those too). A table of 50
 * defaulted columns is 53 entries here, one in a count of relations.
 */
export async function locksToDrop(client: pg.ClientBase, schemas: string[]): Promise<number> {
  const r = await client.query<{ n: string }>(
    `WITH RECURSIVE dropped(classid, objid) AS (
       SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
        WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
          AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[]))
       UNION
       SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN dropped ON d.refclassid = dropped.classid AND d.refobjid = dropped.objid)
     SELECT count(*)::int8::text AS n FROM dropped`,
    [schemas],
  );
  // The schemas themselves (a created one is dropped and made again).
  return Number(r.rows[0].n) + schemas.length;
}

/**
 * Lock-table entries an atomic restore of this backup holds at once. Manifests without an object
 * count (before it was recorded) have it estimated from their entries: a row type per table, view
 * and type, a constraint per key and foreign-key entry. Manifests counted before `counted: 2` lack
 * what ALTER ... OWNER, COMMENT and REFRESH lock besides relations: added from their entries (an
 * array type per type and domain, an entry per routine and other schema object, a new heap with
 * TOAST table and index per refreshed materialized view).
 */
export function locksNeeded(m: Manifest): number {
  const los = m.largeObjects?.length ?? 0;
  const count = (per: Record<string, number>) => m.entries.reduce((s, e) => s + (per[e.kind] ?? 0), 0);
  const est = m.lockEstimate;
  const objects = est?.objects ?? count({ TABLE: 1, 'FOREIGN TABLE': 1, 'MATERIALIZED VIEW': 1, VIEW: 1, TYPE: 1, DOMAIN: 1, CONSTRAINT: 1, 'FK CONSTRAINT': 1 });
  // Oldest manifests: every relation-creating entry, with a TOAST table and index for each table.
  const relations = est?.relations ?? count({ TABLE: 3, 'MATERIALIZED VIEW': 3, VIEW: 1, SEQUENCE: 1, INDEX: 1, CONSTRAINT: 1, TYPE: 1 });
  const uncounted = est?.counted === 2 ? 0 : count(UNCOUNTED_BEFORE_2);
  return relations + objects + uncounted + los + OVERHEAD_LOCKS;
}

/** Lock-table entries per manifest entry that lockEstimate did not count before `counted: 2`. */
const UNCOUNTED_BEFORE_2: Record<string, number> = {
  TYPE: 1,
  DOMAIN: 1,
  FUNCTION: 1,
  PROCEDURE: 1,
  AGGREGATE: 1,
  COLLATION: 1,
  OPERATOR: 1,
  'OPERATOR CLASS': 1,
  'OPERATOR FAMILY': 1,
  CONVERSION: 1,
  STATISTICS: 1,
  'TEXT SEARCH CONFIGURATION': 1,
  'TEXT SEARCH DICTIONARY': 1,
  'TEXT SEARCH PARSER': 1,
  'TEXT SEARCH TEMPLATE': 1,
  'MATERIALIZED VIEW DATA': 3,
};

export interface LockBudget {
  maxLocksPerTransaction: number;
  maxConnections: number;
  maxPreparedTransactions: number;
  /**
   * PostgreSQL's MaxBackends, the processes the lock table is sized for: max_connections +
   * autovacuum_max_workers + 1 (the launcher) + max_worker_processes + max_wal_senders (14–17; a
   * lower bound on 18, which counts autovacuum_worker_slots and two special workers instead).
   */
  serverProcesses: number;
  /** Lock table size: max_locks_per_transaction × (serverProcesses + max_prepared_transactions). */
  capacity: number;
  /** Locks other sessions hold right now. */
  inUse: number;
}

export async function readLockBudget(client: pg.ClientBase): Promise<LockBudget> {
  const r = await client.query<{ mlpt: number; mc: number; av: number; mwp: number; mws: number; mpt: number; used: number }>(
    `SELECT current_setting('max_locks_per_transaction')::int AS mlpt, current_setting('max_connections')::int AS mc,
            current_setting('autovacuum_max_workers')::int AS av, current_setting('max_worker_processes')::int AS mwp,
            current_setting('max_wal_senders')::int AS mws, current_setting('max_prepared_transactions')::int AS mpt,
            (SELECT count(*) FROM pg_catalog.pg_locks WHERE NOT fastpath AND pid IS DISTINCT FROM pg_catalog.pg_backend_pid())::int AS used`,
  );
  const x = r.rows[0];
  const serverProcesses = x.mc + x.av + 1 + x.mwp + x.mws;
  return { maxLocksPerTransaction: x.mlpt, maxConnections: x.mc, maxPreparedTransactions: x.mpt, serverProcesses, capacity: x.mlpt * (serverProcesses + x.mpt), inUse: x.used };
}

/**
 * Refuses (AppError 'conflict', nothing changed) an atomic restore whose locks cannot fit in the
 * target's lock table, naming the setting to raise and by how much, and the non-atomic way out.
 * `alsoDropping`: lock-table entries of what the same transaction drops first (replace mode:
 * locksToDrop on the target; `mode` 'replace': --jobs, which only fills an empty database, is offered
 * as a restore into a new one). Returns the numbers when it fits.
 */
export async function checkLockBudget(client: pg.ClientBase, m: Manifest, alsoDropping = 0, mode: 'fresh' | 'replace' = 'fresh'): Promise<{ needed: number; budget: LockBudget }> {
  return checkLocksFit(client, locksNeeded(m) + alsoDropping, {
    what: `relations, types, constraints, routines and other objects${alsoDropping ? ', and what it drops first' : ''}`,
    orElse: `, or restore${mode === 'replace' ? ' into a new, empty database' : ''} with --jobs 2 (not atomic: a failure leaves a partial database to drop)`,
  });
}

/** Lock-table entries --into-schema takes per member it runs (see locksIntoSchema). */
const INTO_SCHEMA_LOCKS: Record<string, number> = { TABLE: 6, CONSTRAINT: 2, INDEX: 2, 'CHECK CONSTRAINT': 1 };

/**
 * Lock-table entries an --into-schema restore holds until COMMIT (OVERHEAD_LOCKS included): the
 * new schema; per table it creates, the table, its TOAST table and
 * index, an identity sequence, the live parent its INHERITS names (cut after the load) and one spare;
 * per key or index, the index and the table's lock upgrade; per CHECK, one.
 */
export function locksIntoSchema(entries: ManifestEntry[], runs: (e: ManifestEntry) => boolean): number {
  return OVERHEAD_LOCKS + 1 + entries.reduce((s, e) => s + (e.section !== 'header' && e.section !== 'table-data' && runs(e) ? (INTO_SCHEMA_LOCKS[e.kind] ?? 1) : 0), 0);
}

/**
 * Refuses (as checkLockBudget) a restore transaction that takes `needed` lock-table entries (counted
 * without OVERHEAD_LOCKS, which is added here) when the target's lock table cannot hold them.
 * `what` names what is locked; `orElse`, the way out besides raising the setting.
 */
export async function checkLocksFit(client: pg.ClientBase, needed: number, how: { what: string; orElse: string }): Promise<{ needed: number; budget: LockBudget }> {
  const budget = await readLockBudget(client);
  const usable = Math.floor(budget.capacity * USABLE_SHARE) - budget.inUse;
  if (needed <= usable) return { needed, budget };
  const slots = budget.serverProcesses + budget.maxPreparedTransactions;
  const raiseTo = Math.ceil((needed + budget.inUse) / USABLE_SHARE / slots);
  throw new AppError(
    'conflict',
    `this restore takes about ${needed} locks (${how.what}) in ONE transaction, but the target's lock table holds max_locks_per_transaction (${budget.maxLocksPerTransaction}) × (${budget.serverProcesses} server processes (max_connections ${budget.maxConnections} + autovacuum, background and WAL sender processes) + max_prepared_transactions (${budget.maxPreparedTransactions})) = ${budget.capacity} locks (${budget.inUse} in use): set max_locks_per_transaction = ${raiseTo} on the target server and restart it${how.orElse}; nothing was changed`,
    { details: { locksNeeded: needed, capacity: budget.capacity, inUse: budget.inUse, maxLocksPerTransactionNeeded: raiseTo } },
  );
}

/**
 * Lock-table entries a data-only reload of the tables `oids` holds until COMMIT, counted on the
 * target (OVERHEAD_LOCKS included): each table and its inheritance children and partitions (LOCK
 * TABLE without ONLY locks them all), its indexes, TOAST table and TOAST index (TRUNCATE
 * gives them all new files) and owned sequences (setval); every foreign key touching them — its
 * constraint, dropped and re-added (two), its triggers, the table at its other end and the unique
 * index it references (the re-add validates through it); each user trigger disabled and re-enabled.
 */
export async function locksToReload(client: pg.ClientBase, oids: number[]): Promise<number> {
  const r = await client.query<{ n: string }>(
    `WITH RECURSIVE t AS (SELECT DISTINCT unnest($1::pg_catalog.oid[]) AS oid),
          fk AS (SELECT k.oid, k.conrelid, k.confrelid, k.conindid FROM pg_catalog.pg_constraint k
                  WHERE k.contype = 'f' AND (k.conrelid IN (SELECT oid FROM t) OR k.confrelid IN (SELECT oid FROM t))),
          kin AS (SELECT oid FROM t UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN kin ON i.inhparent = kin.oid),
          rels AS (
            SELECT oid FROM kin
            UNION SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid IN (SELECT oid FROM t)
            UNION SELECT c.reltoastrelid FROM pg_catalog.pg_class c WHERE c.oid IN (SELECT oid FROM t) AND c.reltoastrelid <> 0
            UNION SELECT i.indexrelid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indrelid = c.reltoastrelid WHERE c.oid IN (SELECT oid FROM t)
            UNION SELECT d.objid FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                     AND d.refobjid IN (SELECT oid FROM t) AND d.deptype IN ('a', 'i')
            UNION SELECT conrelid FROM fk UNION SELECT confrelid FROM fk UNION SELECT conindid FROM fk WHERE conindid <> 0)
     SELECT ((SELECT count(*) FROM rels) + 2 * (SELECT count(*) FROM fk)
             + (SELECT count(*) FROM pg_catalog.pg_trigger g WHERE g.tgconstraint IN (SELECT oid FROM fk))
             + (SELECT count(*) FROM pg_catalog.pg_trigger g WHERE g.tgrelid IN (SELECT oid FROM t) AND NOT g.tgisinternal))::int8::text AS n`,
    [oids],
  );
  return Number(r.rows[0].n) + OVERHEAD_LOCKS;
}

/** Relations in the inheritance trees under `oids` (each included once, with its TOAST table): what ALTER TABLE recursing through them locks. */
export async function inheritanceTreeSize(client: pg.ClientBase, oids: number[]): Promise<number> {
  if (!oids.length) return 0;
  const r = await client.query<{ n: string }>(
    `WITH RECURSIVE kin AS (SELECT DISTINCT unnest($1::pg_catalog.oid[]) AS oid UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN kin ON i.inhparent = kin.oid)
     SELECT (count(*) + count(NULLIF(c.reltoastrelid, 0)))::int8::text AS n FROM kin JOIN pg_catalog.pg_class c ON c.oid = kin.oid`,
    [oids],
  );
  return Number(r.rows[0].n);
}

/**
 * Lock-table entries one transaction of a parallel (`--jobs`) restore may hold: each connection's
 * share of what the target's lock table can spare — the share and the other sessions' locks as
 * checkLockBudget counts them, less each connection's overhead — at most MAX_BATCH_LOCKS; 0 when
 * nothing can be spared (then every object commits on its own, as without batches).
 */
export function batchLockLimit(budget: LockBudget, connections: number): number {
  const spare = Math.floor(budget.capacity * USABLE_SHARE) - budget.inUse - OVERHEAD_LOCKS * connections;
  return Math.max(0, Math.min(MAX_BATCH_LOCKS, Math.floor(spare / connections)));
}
