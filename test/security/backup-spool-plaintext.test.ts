import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { tempDir } from '../helpers/temp-dirs';

// An encrypted backup (BACKUP_ENCRYPTION_RECIPIENTS) must not leave customer rows in the clear
// anywhere, and the workers' spool (finished table chunks waiting for the archive writer, in
// BACKUP_SPOOL_DIR) is on disk for the whole run — and stays there when the process is killed
// (SIGKILL, OOM killer, a power cut) until a later backup removes it. Its files must be unreadable.

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');
const MARKER = 'Zebedewos-Alemayehu';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
let work: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'spoolpt' });
  // Chunks of BACKUP_CHUNK_MB=4 compress to more than the 1 MiB a chunk may keep in memory: spooled to files.
  await withClient(db.url, (c) =>
    c.query(`CREATE TABLE public.customers_bulk AS SELECT g AS id, '${MARKER}-' || g AS name, md5(g::text) || md5((g * 7)::text) || md5(random()::text) AS note
             FROM generate_series(1, 300000) g`),
  );
  work = await tempDir('spool-plaintext-');
}, 120_000);

afterAll(async () => {
  await db?.drop();
});

/** What a gzip reader gets out of (the start of) a spool file: '' when it is not gzip at all. */
function gunzipPrefix(bytes: Buffer): string {
  try {
    return gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH }).toString('latin1');
  } catch {
    return '';
  }
}

describe('the backup spool of an encrypted backup', () => {
  it('holds no plaintext: a backup killed with SIGKILL while it spools leaves files that neither show nor gunzip to any row', async () => {
    const spool = path.join(work, 'spool');
    await mkdir(spool);
    const recipient = (await generateKeyPair()).recipient;
    const env: NodeJS.ProcessEnv = { ...process.env, BACKUP_SPOOL_DIR: spool, BACKUP_CHUNK_MB: '4', BACKUP_ENCRYPTION_RECIPIENTS: recipient };
    const child = spawn(process.execPath, [BIN, 'backup', '--database-url', db.url, '--storage', path.join(work, 'storage')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const closed = new Promise<string | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    const spoolFiles = () =>
      readdirSync(spool)
        .filter((d) => d.startsWith('tickethub-backup-'))
        .flatMap((d) => {
          try {
            return readdirSync(path.join(spool, d)).map((f) => path.join(spool, d, f));
          } catch {
            return [];
          }
        });
    const deadline = Date.now() + 90_000;
    let big = false;
    while (!big && Date.now() < deadline && child.exitCode === null) {
      big = spoolFiles().some((f) => {
        try {
          return statSync(f).size > 256 * 1024;
        } catch {
          return false;
        }
      });
      if (!big) await sleep(20);
    }
    expect(big, `no spool file grew past 256 KiB: ${stderr}`).toBe(true);
    child.kill('SIGKILL');
    expect(await closed).toBe('SIGKILL');

    // A chunk file the kill caught just after it was opened is empty: nothing in it to leak. The
    // file that grew past 256 KiB is not, so at least one file is looked into.
    const left = (await Promise.all(spoolFiles().map(async (f) => ({ f, bytes: await readFile(f) })))).filter((x) => x.bytes.length > 0);
    expect(left.some((x) => x.bytes.length > 256 * 1024), 'the big spool file is still there').toBe(true);
    for (const { f, bytes } of left) {
      expect(bytes.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b])), `${f} is a gzip stream`).toBe(false);
      const text = gunzipPrefix(bytes);
      expect(text.includes(MARKER), `${f} gunzips to customer rows`).toBe(false);
      expect(text.includes('COPY "public"'), f).toBe(false);
      expect(bytes.includes(Buffer.from(MARKER)), f).toBe(false);
    }
    // The server notices the dead client; nothing of ours stays connected.
    for (let i = 0; i < 100; i++) {
      const n = await withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int n FROM pg_stat_activity WHERE application_name LIKE 'tickethub-backup%' AND datname = current_database()`)).rows[0].n as number);
      if (n === 0) break;
      await sleep(200);
    }
  }, 180_000);

  it('an encrypted backup whose chunks went through the (encrypted) spool is exact: verify --identity checks every member', async () => {
    const spool = path.join(work, 'spool-ok');
    await mkdir(spool);
    const kp = await generateKeyPair();
    const key = path.join(work, 'key.txt');
    await writeFile(key, `${kp.identity}\n`, { mode: 0o600 });
    const storage = path.join(work, 'storage-ok');
    const env: NodeJS.ProcessEnv = { ...process.env, BACKUP_SPOOL_DIR: spool, BACKUP_CHUNK_MB: '4', BACKUP_ENCRYPTION_RECIPIENTS: kp.recipient };
    const b = spawnSync(process.execPath, [BIN, 'backup', '--database-url', db.url, '--storage', storage, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(b.status, b.stderr).toBe(0);
    const { id } = JSON.parse(b.stdout) as { id: string };
    const v = spawnSync(process.execPath, [BIN, 'verify', id, '--storage', storage, '--identity', key, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).verify).toMatchObject({ ok: true, encryption: { lookedInside: true } });
    expect(readdirSync(spool)).toEqual([]);
  }, 180_000);
});
