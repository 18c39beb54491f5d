import type { Queryable } from '../activity/log-activity';

/** One activity_logs row for the activity page. */
export interface ActivityRow {
  id: number;
  action: string;
  entityType: string;
  entityId: string | null;
  description: string;
  /** Structured detail recorded with the entry (the translated description is built from it). */
  metadata: Record<string, unknown>;
  ipAddress: string | null;
  createdAt: Date;
  adminName: string | null;
  adminEmail: string | null;
}

export interface ActivityPage {
  items: ActivityRow[];
  total: number;
  /** 1-based, clamped to [1, pageCount]. */
  page: number;
  pageCount: number;
  pageSize: number;
}

/**
 * One page of the audit trail, newest first (ties broken by id so pages never overlap), optionally
 * only one action. A page beyond the end is clamped to the last page.
 */
export async function listActivity(db: Queryable, opts: { page: number; pageSize?: number; action?: string | null }): Promise<ActivityPage> {
  const pageSize = Math.min(Math.max(opts.pageSize ?? 25, 1), 200);
  const action = opts.action || null;
  const { rows: countRows } = await db.query<{ total: number }>(
    `SELECT count(*)::bigint AS total FROM public.activity_logs WHERE ($1::text IS NULL OR action = $1)`,
    [action],
  );
  const total = Number(countRows[0].total);
  const pageCount = Math.max(1, Math.ceil(total / pageSize));
  const page = Math.min(Math.max(Math.trunc(opts.page) || 1, 1), pageCount);
  const { rows } = await db.query<{
    id: number; action: string; entity_type: string; entity_id: string | null; description: string; metadata: Record<string, unknown> | null;
    ip_address: string | null; created_at: Date; full_name: string | null; email: string | null;
  }>(
    `SELECT l.id, l.action, l.entity_type, l.entity_id, l.description, l.metadata, l.ip_address, l.created_at, a.full_name, a.email
       FROM public.activity_logs l
       LEFT JOIN public.admin_users a ON a.id = l.admin_user_id
      WHERE ($1::text IS NULL OR l.action = $1)
      ORDER BY l.created_at DESC, l.id DESC
      LIMIT $2 OFFSET $3`,
    [action, pageSize, (page - 1) * pageSize],
  );
  return {
    items: rows.map((r) => ({
      id: Number(r.id), action: r.action, entityType: r.entity_type, entityId: r.entity_id, description: r.description, metadata: r.metadata ?? {},
      ipAddress: r.ip_address, createdAt: r.created_at, adminName: r.full_name, adminEmail: r.email,
    })),
    total, page, pageCount, pageSize,
  };
}

/**
 * The distinct actions present, alphabetically. A recursive "skip scan" over the (action, ...)
 * index costs one index probe per distinct action, so it stays instant on millions of rows where
 * SELECT DISTINCT would read them all.
 */
export async function listActivityActions(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ action: string }>(
    `WITH RECURSIVE a AS (
       (SELECT action FROM public.activity_logs ORDER BY action LIMIT 1)
       UNION ALL
       SELECT (SELECT l.action FROM public.activity_logs l WHERE l.action > a.action ORDER BY l.action LIMIT 1)
         FROM a WHERE a.action IS NOT NULL
     )
     SELECT action FROM a WHERE action IS NOT NULL`,
  );
  return rows.map((r) => r.action);
}
