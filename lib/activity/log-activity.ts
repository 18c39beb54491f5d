import type pg from 'pg';

/** One row of the audit trail, shaped as the seed's activity_logs entries. */
export interface ActivityEntry {
  /** Upper-case action, e.g. 'AUTOMATED_BACKUP', 'MANUAL_BACKUP', 'BACKUP_FAILED', 'ADMIN_SIGN_IN'. */
  action: string;
  /** e.g. 'system', 'admin_user', 'backup'. */
  entityType: string;
  entityId?: string | null;
  description: string;
  /** Client address, or a marker such as 'system-automation' for jobs. */
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Extra structured detail. Never put secrets or password hashes here. */
  metadata?: Record<string, unknown>;
  adminUserId?: string | null;
}

/** Anything that can run a query: a Pool, a PoolClient or a Client. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.ClientBase;

/**
 * Appends one row to activity_logs. Callers that must not fail because auditing failed (e.g. the
 * backup engine recording a failure) wrap this in their own catch.
 */
export async function logActivity(db: Queryable, e: ActivityEntry): Promise<void> {
  await db.query(
    `INSERT INTO public.activity_logs (action, entity_type, entity_id, description, ip_address, user_agent, metadata, admin_user_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)`,
    [e.action, e.entityType, e.entityId ?? null, e.description, e.ipAddress ?? null, e.userAgent ?? null, JSON.stringify(e.metadata ?? {}), e.adminUserId ?? null],
  );
}
