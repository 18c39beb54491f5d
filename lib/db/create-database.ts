import pg from 'pg';
import { AppError, toAppError } from '../errors';
import { quoteIdent } from '../backup/catalog/quote-ident';

/** host:port/dbname of a postgres:// URL, without user or password, for messages. */
function where(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
}

/** The database name of a postgres:// URL (URL-decoded). */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new AppError('usage', `the target URL names no database: ${where(url)}`);
  if (Buffer.byteLength(name) > 63) throw new AppError('usage', `database name is longer than PostgreSQL's 63 bytes: ${JSON.stringify(name)}`);
  return name;
}

/** Runs `fn` on a connection to the server of `url`, through its maintenance database (postgres, else template1). */
async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (const maintenance of ['postgres', 'template1']) {
    const u = new URL(url);
    u.pathname = `/${maintenance}`;
    const c = new pg.Client({ connectionString: u.toString(), application_name: 'tickethub-create-database' });
    try {
      await c.connect();
    } catch (err) {
      lastError = err;
      await c.end().catch(() => {});
      continue;
    }
    c.on('error', () => {});
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => {});
    }
  }
  throw toAppError(lastError, `cannot connect to the server of ${where(url)}`);
}

/**
 * Creates the database named by `url` on its server (UTF8 from template0, so Amharic is safe and
 * nothing from template1 leaks in). Refuses one that exists, whatever it holds: `--create` means a
 * NEW database, never "use this one if it is there".
 */
export async function createDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await onServer(url, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) {
      throw new AppError('conflict', `database ${JSON.stringify(name)} already exists on ${new URL(url).host}: --create makes a new database only (choose another name, or restore into it without --create)`);
    }
    try {
      await c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
    } catch (err) {
      throw toAppError(err, `cannot create database ${JSON.stringify(name)}`);
    }
  });
}

/** Drops the database named by `url` (a database this process created and must not leave half-filled). */
export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await onServer(url, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}
