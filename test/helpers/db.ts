import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';
import { migrate } from '../../lib/db/migrate';

/** URL of the test server's maintenance database (fresh databases are created from it). */
export function serverUrl(): string {
  return inject('serverUrl');
}

/** Same server, another database name. */
export function urlFor(database: string, base = serverUrl()): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database (terminating its connections). */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * Creates a brand-new empty database (from template0, UTF8) for one test file, optionally with the
 * TicketHub migrations applied. Names are random so concurrent test files never collide.
 */
export async function createTestDatabase(opts: { migrate?: boolean; prefix?: string } = {}): Promise<TestDatabase> {
  const name = `${opts.prefix ?? 't'}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`));
  const url = urlFor(name);
  if (opts.migrate) await migrate(url);
  return { name, url, drop: () => dropDatabase(name) };
}

/**
 * Drops a database if it exists, disconnecting its sessions first. Sessions a test has just closed
 * (a pool's end() resolves before its sockets are gone) get up to 3 s to leave on their own: one
 * terminated by the DROP mid-close raises 57P01 in the test process, where no one listens anymore.
 */
export async function dropDatabase(name: string): Promise<void> {
  await admin(async (c) => {
    for (let i = 0; i < 60; i++) {
      const r = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
      if (r.rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
}

/** Runs fn with a connected client on url, always closing it. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
