import pg from 'pg';
import { AppError } from '../errors';

/**
 * The one owner of the application's connection pool. Reads DATABASE_URL lazily so scripts that
 * set it at start-up (the embedded database launcher) can do so before the first query.
 */
let pool: pg.Pool | undefined;
let poolUrl: string | undefined;

// Return timestamps/numerics as the database's text rather than lossy JS numbers where it matters:
// int8 (20) as string would surprise callers who count rows, so parse it to number when safe.
pg.types.setTypeParser(20, (v) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

/**
 * `url` when it is a postgres:// (or postgresql://) URL, else an error naming `what`: a usage error
 * (exit 2) for a command-line option (`--target-url`), a config error for a variable.
 */
export function checkDatabaseUrl(url: string, what: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error('bad scheme');
  } catch {
    // postgres://user@/db?host=/socket/dir (libpq accepts it) has an empty host after a user name,
    // which URL parsing refuses: say how to write the same connection.
    const socketHint = /^postgres(ql)?:\/\/[^/?#]*@\//i.test(url) ? ' (for a Unix socket with a user name, write postgresql:///DATABASE?host=/socket/dir&user=NAME)' : '';
    throw new AppError(what.startsWith('--') ? 'usage' : 'config', `${what} is not a valid postgres:// URL${socketHint}`);
  }
  return url;
}

/** The DATABASE_URL in effect, or a config error naming the variable. */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new AppError('config', 'DATABASE_URL is not set');
  return checkDatabaseUrl(url, 'DATABASE_URL');
}

/** How long the app's pool waits for a new connection to be ready. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The shared pool for DATABASE_URL (created on first use; recreated if the URL changed). */
export function getPool(): pg.Pool {
  const url = databaseUrl();
  if (!pool || poolUrl !== url) {
    void pool?.end().catch(() => {});
    // A connection whose start-up never completes (a stuck server or pooler that accepts TCP and
    // says nothing) gives its pool slot back after CONNECT_TIMEOUT_MS: without it every slot could
    // hang forever and the app would stay down after the database came back.
    pool = new pg.Pool({ connectionString: url, max: Number(process.env.DATABASE_POOL_MAX ?? 10), application_name: 'tickethub', connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', () => {});
    poolUrl = url;
  }
  return pool;
}

/** Closes the shared pool (scripts and tests call this before exiting). */
export async function closePool(): Promise<void> {
  const p = pool;
  pool = undefined;
  poolUrl = undefined;
  await p?.end();
}
