import type pg from 'pg';
import { AppError } from '../errors';

const FIX =
  'backups need a session (advisory lock, exported snapshot): use the session pooler or a direct connection (port 5432), not the transaction pooler';

/**
 * Refuses a URL that points at a transaction-mode pooler, from the URL alone: Supabase's
 * transaction pooler listens on port 6543, and `pgbouncer=true` is how Prisma-style URLs mark a
 * PgBouncer in transaction mode. Behind such a pooler session advisory locks and exported
 * snapshots silently stop meaning anything (each statement may run on another server session).
 */
export function assertNotTransactionPoolerUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return; // malformed URLs are reported by whoever connects
  }
  if (u.port === '6543') throw new AppError('config', `the database URL uses port 6543 (a transaction-mode pooler such as Supabase's): ${FIX}`);
  if (/^(true|1)$/i.test(u.searchParams.get('pgbouncer') ?? '')) throw new AppError('config', `the database URL says pgbouncer=true (transaction-mode pooling): ${FIX}`);
}

/**
 * Detects a transaction-mode pooler on a live connection: outside a transaction, two statements on
 * one client connection reach two different server sessions. (A session pooler or a direct
 * connection always answers with the same backend pid.) Not proof of the opposite: a quiet pooler
 * may hand back the same session twice; the URL check covers the common case.
 */
export async function assertSessionConnection(db: Pick<pg.ClientBase, 'query'>): Promise<void> {
  const a = (await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const b = (await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  if (a !== b) throw new AppError('config', `the connection switches server sessions between statements (transaction-mode pooler): ${FIX}`);
}
