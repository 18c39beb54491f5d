import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/db/embedded';
import { launch } from './launcher';

// Malformed settings the web app reads (or a storage / data directory that cannot be written) stop
// `npm start` with one line naming the variable, exit 1, before the database or the web app starts.
// Before, each of these started a server that looked fine: SESSION_COOKIE_SECURE=yes and
// TRUST_PROXY_HOPS=one were silently ignored, APP_TIME_ZONE=Mars/Base failed every page with dates,
// BACKUP_STORAGE_URL=ftp://… failed every backup, and an unwritable data directory surfaced as a
// bare "EACCES: permission denied, mkdir …" after the migrations had run.

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tickethub-start-env-'));
  dirs.push(d);
  return d;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('npm start refuses malformed settings with one line', () => {
  it('each bad value: exit 1, one line naming the variable, no database started, port still free', { timeout: 600_000 }, async () => {
    const base = await tmp();
    const aFile = path.join(base, 'a-file');
    await writeFile(aFile, 'not a directory\n');
    const cases: [Record<string, string>, RegExp][] = [
      [{ SESSION_COOKIE_SECURE: 'yes' }, /^tickethub: SESSION_COOKIE_SECURE must be true or false \(or unset: Secure per request\), got 'yes'$/],
      [{ TRUST_PROXY_HOPS: 'one' }, /^tickethub: TRUST_PROXY_HOPS must be a whole number from 0 to 10, got 'one'$/],
      [{ TRUST_PROXY_HOPS: '-1' }, /^tickethub: TRUST_PROXY_HOPS must be a whole number from 0 to 10, got '-1'$/],
      [{ DATABASE_POOL_MAX: 'ten' }, /^tickethub: DATABASE_POOL_MAX must be a whole number from 1 to 1000, got 'ten'$/],
      [{ APP_TIME_ZONE: 'Mars/Base' }, /^tickethub: APP_TIME_ZONE is not a time zone: 'Mars\/Base' \(use an IANA name such as Africa\/Addis_Ababa\)$/],
      [{ BACKUP_STORAGE_URL: 'ftp://backups.example/x' }, /^tickethub: BACKUP_STORAGE_URL: unsupported storage URL scheme 'ftp:'/],
      [{ BACKUP_STORAGE_URL: 's3://' }, /^tickethub: BACKUP_STORAGE_URL: .*(bucket|invalid S3)/],
      [{ BACKUP_STORAGE_URL: 's3://bucket/x', S3_ENDPOINT: 'minio:9000' }, /^tickethub: S3_ENDPOINT must be an http:\/\/ or https:\/\/ URL \(e\.g\. http:\/\/minio:9000\), got 'minio:9000'$/],
      [{ BACKUP_STORAGE_URL: 's3://bucket/x', S3_FORCE_PATH_STYLE: 'sometimes' }, /^tickethub: S3_FORCE_PATH_STYLE must be true or false, got 'sometimes'$/],
      [{ BACKUP_WORKERS: '99' }, /^tickethub: BACKUP_WORKERS must be a whole number from 1 to 16, got '99'$/],
      [{ BACKUP_GZIP_LEVEL: '12' }, /^tickethub: BACKUP_GZIP_LEVEL must be a whole number from 1 to 9, got '12'$/],
      [{ BACKUP_SIGNING_KEY: 'short' }, /^tickethub: BACKUP_SIGNING_KEY must be at least 32 characters/],
      [{ BACKUP_ENCRYPTION_RECIPIENTS: 'age1notakey' }, /^tickethub: BACKUP_ENCRYPTION_RECIPIENTS: "age1notakey" is not an age recipient/],
      [{ BACKUP_STORAGE_URL: path.join(aFile, 'backups') }, /^tickethub: backup storage directory .*a-file\/backups \(BACKUP_STORAGE_URL\) cannot be written: ENOTDIR/],
    ];
    for (const [env, line] of cases) {
      const dataDir = path.join(await tmp(), 'data');
      const port = await freePort();
      const run = launch([], { TICKETHUB_DATA_DIR: dataDir, PORT: String(port), ...env });
      // A start that wrongly goes ahead is stopped (SIGTERM stops the web app and the database) and fails below.
      const started = run.waitFor(/press Ctrl-C to stop/, 150_000).then(() => true, () => false);
      const code = await Promise.race([run.exit, started.then(async (s) => (s ? (run.child.kill('SIGTERM'), await run.exit, 'started') : run.exit))]);
      const out = run.output().trim().split('\n');
      expect(code, JSON.stringify(env)).toBe(1);
      expect(out, JSON.stringify(env)).toHaveLength(1);
      expect(out[0], JSON.stringify(env)).toMatch(line);
      expect(existsSync(path.join(dataDir, 'pg')), JSON.stringify(env)).toBe(false);
      expect(await portIsFree(port)).toBe(true);
    }
  });

  it('a data directory that cannot be written: one line naming TICKETHUB_DATA_DIR and the fix, before any database work', async () => {
    const base = await tmp();
    const aFile = path.join(base, 'a-file');
    await writeFile(aFile, 'x');
    for (const args of [['--no-web'], []]) {
      const run = launch(args, { TICKETHUB_DATA_DIR: path.join(aFile, 'data'), PORT: String(await freePort()) });
      expect(await run.exit).toBe(1);
      const out = run.output().trim().split('\n');
      expect(out).toEqual([`tickethub: the data directory ${path.join(aFile, 'data')} (TICKETHUB_DATA_DIR) cannot be written: ENOTDIR (fix its permissions or set TICKETHUB_DATA_DIR)`]);
    }
  });

  it('a DATABASE_URL naming a database, role or host that does not exist: the last line names the cause, exit 1, nothing served', async () => {
    const server = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    const nodb = new URL(server.href);
    nodb.pathname = '/tickethub_no_such_database_h8';
    const norole = new URL(server.href);
    norole.username = 'no_such_role_h8';
    norole.password = 'secret-password-h8';
    const cases: [string, RegExp][] = [
      [nodb.href, /^tickethub: cannot connect to the database: database "tickethub_no_such_database_h8" does not exist$/],
      [norole.href, /^tickethub: cannot connect to the database: (role "no_such_role_h8" does not exist|password authentication failed for user "no_such_role_h8")$/],
      ['postgres://postgres@no-such-host.invalid:5432/tickethub', /^tickethub: cannot connect to the database: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid$/],
    ];
    for (const [url, line] of cases) {
      const port = await freePort();
      const run = launch([], { TICKETHUB_DATA_DIR: path.join(await tmp(), 'data'), PORT: String(port), DATABASE_URL: url });
      expect(await run.exit, url).toBe(1);
      const out = run.output().trim();
      expect(out.split('\n').at(-1), url).toMatch(line);
      expect(out).not.toContain('secret-password-h8');
      expect(out).not.toMatch(/\n\s+at /); // no stack trace
      expect(await portIsFree(port)).toBe(true);
    }
  });
});
