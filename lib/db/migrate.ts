import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { AppError, toAppError } from '../errors';
import { PROJECT_ROOT } from '../project-root';

/** Where the numbered SQL migrations live (`NNN_name.sql`, applied in file-name order). */
// Under the project root (../project-root: from source, or built into the bundled CLI); from the
// working directory when that has none (the Next.js server's bundle runs from the project root).
export const MIGRATIONS_DIR = (() => {
  if (process.env.MIGRATIONS_DIR) return process.env.MIGRATIONS_DIR;
  const fromRoot = path.join(PROJECT_ROOT, 'db/migrations');
  if (existsSync(fromRoot)) return fromRoot;
  return path.resolve(process.cwd(), 'db/migrations');
})();

export interface Migration {
  /** The file name without `.sql`, e.g. `001_schema`; recorded in `schema_migrations.name`. */
  name: string;
  sql: string;
}

/** Reads the migration files in order. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (f) => ({ name: f.replace(/\.sql$/, ''), sql: await readFile(path.join(dir, f), 'utf8') })));
}

/** The name of the newest migration this code base ships (recorded in backup manifests). */
export async function latestMigrationName(dir = MIGRATIONS_DIR): Promise<string | null> {
  const all = await loadMigrations(dir);
  return all.length ? all[all.length - 1].name : null;
}

/**
 * Applies every migration not yet recorded, each in its own transaction, so a failing migration
 * leaves nothing half-applied. A transaction-level advisory lock serialises concurrent runners
 * (two app instances starting at once). Returns the names applied now.
 */
export async function migrate(connectionString: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir);
  const client = new pg.Client({ connectionString, application_name: 'tickethub-migrate' });
  try {
    await client.connect();
  } catch (err) {
    throw toAppError(err, 'cannot connect to the database');
  }
  client.on('error', () => {});
  const applied: string[] = [];
  try {
    // Under the same lock as the migrations: two instances starting together would otherwise both
    // try to create the table (IF NOT EXISTS is not concurrency-safe: duplicate pg_type key).
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(7263, 1)');
    await client.query(`CREATE TABLE IF NOT EXISTS public.schema_migrations (
      name text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query('COMMIT');
    for (const m of migrations) {
      await client.query('BEGIN');
      try {
        // 7263 = 'TH' for TicketHub migrations; held until COMMIT/ROLLBACK.
        await client.query('SELECT pg_advisory_xact_lock(7263, 1)');
        const done = await client.query('SELECT 1 FROM public.schema_migrations WHERE name = $1', [m.name]);
        if (done.rowCount) {
          await client.query('COMMIT');
          continue;
        }
        await client.query(m.sql);
        await client.query('INSERT INTO public.schema_migrations (name) VALUES ($1)', [m.name]);
        await client.query('COMMIT');
        applied.push(m.name);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        const e = toAppError(err);
        throw new AppError('migration_failed', `migration ${m.name} failed: ${e.message}`, { cause: err });
      }
    }
  } finally {
    await client.end().catch(() => {});
  }
  return applied;
}

/** The newest applied migration of a database, or null when it has none (or no such table). */
export async function appliedMigrationLevel(client: pg.ClientBase): Promise<string | null> {
  const t = await client.query(`SELECT to_regclass('public.schema_migrations') AS t`);
  if (!t.rows[0].t) return null;
  const r = await client.query('SELECT max(name) AS name FROM public.schema_migrations');
  return r.rows[0].name ?? null;
}
