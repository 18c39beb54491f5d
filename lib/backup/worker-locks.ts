import type pg from 'pg';

/**
 * Locks held by the helper connections of a backup. Every COPY takes an ACCESS SHARE lock on its
 * table until its transaction ends; a helper reading 5,000 tables in one transaction would hold
 * 5,000 locks on top of the coordinator's (which locks every table up front, as pg_dump does), and
 * with 10,000 tables the server's lock table ("max_locks_per_transaction") runs out: the backup
 * failed with "out of shared memory". A helper therefore ends its transaction every
 * HELPER_CHUNKS_PER_TRANSACTION chunks and re-joins the SAME exported snapshot in a new one: it
 * sees exactly the same data (the coordinator, whose transaction exported the snapshot, stays open
 * and keeps every table locked against DDL), while holding at most that many table locks.
 */
export const HELPER_CHUNKS_PER_TRANSACTION = 200;

/** Ends the helper's transaction (releasing its locks) and begins a new one on `snapshot`, in one round trip. */
export async function renewSnapshot(client: pg.ClientBase, snapshot: string): Promise<void> {
  await client.query(`COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`);
}

/**
 * Most user-relation locks the catalog fingerprint may take on its own connection beside the schema
 * dump. It reads catalogs only, but pg_get_viewdef / pg_get_ruledef lock each view and every
 * relation its query reads until that transaction ends: locks the coordinator holds already, taken
 * a second time. A catalog whose views and rules would take more fingerprints on the coordinator
 * (after the schema dump, holding nothing new) so the backup holds no more than pg_dump would.
 */
export const FINGERPRINT_SIDE_LOCKS = 500;
