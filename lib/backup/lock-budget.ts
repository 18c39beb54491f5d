import type pg from 'pg';
import { AppError } from '../errors';
import type { Manifest } from './manifest';

/**
 * The lock arithmetic of an atomic restore. One transaction that creates N relations holds N
 * relation locks until COMMIT (CREATE takes an ACCESS EXCLUSIVE lock on each new table, its TOAST
 * table and TOAST index, each index and sequence ...). The server's shared lock table holds
 * max_locks_per_transaction × (max_connections + max_prepared_transactions) locks for ALL sessions;
 * past that the transaction fails with "out of shared memory" — after doing most of its work.
 * So the restore counts first and refuses before touching anything when it cannot fit.
 */

/** Locks besides the relations: schemas, types, functions locked while created, a safety margin. */
const OVERHEAD_LOCKS = 64;
/** Share of the lock table the restore may plan to use (other sessions hold locks too). */
const USABLE_SHARE = 0.9;
/** Most lock-table entries one transaction of a parallel restore takes (past this, batches only get longer, not faster). */
const MAX_BATCH_LOCKS = 1000;

/**
 * Relations a restore of `schemas` creates, counted on the source inside the backup's snapshot:
 * every pg_class row in the schemas (tables, indexes, sequences, views, composite types ...) plus
 * each one's TOAST table and TOAST index. Extension members are counted too (CREATE EXTENSION makes them).
 */
export async function countRelations(client: pg.ClientBase, schemas: string[]): Promise<number> {
  const r = await client.query<{ n: string }>(
    `SELECT (count(*) + 2 * count(*) FILTER (WHERE c.reltoastrelid <> 0))::int8::text AS n
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[])`,
    [schemas],
  );
  return Number(r.rows[0].n);
}

/** Locks an atomic restore of this backup holds at once (estimated from the entries for manifests without a count). */
export function locksNeeded(m: Manifest): number {
  if (typeof m.lockEstimate?.relations === 'number') return m.lockEstimate.relations + OVERHEAD_LOCKS;
  // Older manifests: every relation-creating entry, with a TOAST table and index for each table.
  const per: Record<string, number> = { TABLE: 3, 'MATERIALIZED VIEW': 3, VIEW: 1, SEQUENCE: 1, INDEX: 1, CONSTRAINT: 1, TYPE: 1 };
  return m.entries.reduce((s, e) => s + (per[e.kind] ?? 0), 0) + OVERHEAD_LOCKS;
}

export interface LockBudget {
  maxLocksPerTransaction: number;
  maxConnections: number;
  maxPreparedTransactions: number;
  /** Lock table size: max_locks_per_transaction × (max_connections + max_prepared_transactions). */
  capacity: number;
  /** Locks other sessions hold right now. */
  inUse: number;
}

export async function readLockBudget(client: pg.ClientBase): Promise<LockBudget> {
  const r = await client.query<{ mlpt: number; mc: number; mpt: number; used: number }>(
    `SELECT current_setting('max_locks_per_transaction')::int AS mlpt, current_setting('max_connections')::int AS mc,
            current_setting('max_prepared_transactions')::int AS mpt,
            (SELECT count(*) FROM pg_catalog.pg_locks WHERE NOT fastpath AND pid IS DISTINCT FROM pg_catalog.pg_backend_pid())::int AS used`,
  );
  const x = r.rows[0];
  return { maxLocksPerTransaction: x.mlpt, maxConnections: x.mc, maxPreparedTransactions: x.mpt, capacity: x.mlpt * (x.mc + x.mpt), inUse: x.used };
}

/**
 * Refuses (AppError 'conflict', nothing changed) an atomic restore whose locks cannot fit in the
 * target's lock table, naming the setting to raise and by how much, and the non-atomic way out.
 * `alsoDropping`: relations the same transaction drops first (replace mode). Returns the numbers when it fits.
 */
export async function checkLockBudget(client: pg.ClientBase, m: Manifest, alsoDropping = 0): Promise<{ needed: number; budget: LockBudget }> {
  const budget = await readLockBudget(client);
  const needed = locksNeeded(m) + alsoDropping;
  const usable = Math.floor(budget.capacity * USABLE_SHARE) - budget.inUse;
  if (needed <= usable) return { needed, budget };
  const slots = budget.maxConnections + budget.maxPreparedTransactions;
  const raiseTo = Math.ceil((needed + budget.inUse) / USABLE_SHARE / slots);
  throw new AppError(
    'conflict',
    `this restore locks about ${needed} relations in ONE transaction, but the target's lock table holds max_locks_per_transaction (${budget.maxLocksPerTransaction}) × (max_connections (${budget.maxConnections}) + max_prepared_transactions (${budget.maxPreparedTransactions})) = ${budget.capacity} locks (${budget.inUse} in use): set max_locks_per_transaction = ${raiseTo} on the target server and restart it, or restore with --jobs 2 (not atomic: a failure leaves a partial database to drop); nothing was changed`,
    { details: { locksNeeded: needed, capacity: budget.capacity, inUse: budget.inUse, maxLocksPerTransactionNeeded: raiseTo } },
  );
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
