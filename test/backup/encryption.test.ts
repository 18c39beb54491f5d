import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recipient } from 'age-encryption';
import { createAgeDecryptStream, createAgeEncryptStream } from '../../lib/backup/encryption/age-stream';
import { encryptionRecipients, encryptionStatus, generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { encryptedArchiveKey, manifestKey, type Manifest } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { hashesOf, seedTicketHub, tempStorage } from './restore-test-helpers';

// Encryption at rest with age (issue 12). The standard-tool path needs Debian's `age` binary.

const ROOT = path.resolve(import.meta.dirname, '../..');
const HAS_AGE = spawnSync('age', ['--version']).status === 0;
if (!HAS_AGE) console.warn('\n!!! encryption.test: the `age` binary is missing (apt-get install age): the `age -d | gunzip | psql` tests are SKIPPED !!!\n');

function cli(args: string[], env: Record<string, string> = {}) {
  const base = { ...process.env };
  for (const k of ['DATABASE_URL', 'BACKUP_STORAGE_URL', 'BACKUP_ENCRYPTION_RECIPIENTS', 'BACKUP_ENCRYPTION_IDENTITY']) delete base[k];
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env }, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function tableCount(url: string): Promise<number> {
  return withClient(url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND c.relkind = 'r'`)).rows[0].n as number);
}

// Values no compressor or cipher would produce by chance: one customer's name and phone number.
const MARKER_NAME = `Zebedewos-${randomBytes(6).toString('hex')}`;
const MARKER_PHONE = '+251911987654';

let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let storageUrl: string;
let work: string;
let keyFile: string;
let otherKeyFile: string;
let recipient: string;
let id: string;
let result: Awaited<ReturnType<typeof runBackup>>;
let expected: Awaited<ReturnType<typeof hashesOf>>;
const dbs: TestDatabase[] = [];
async function emptyDb(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'enc' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'enc' });
  dbs.push(src);
  await seedTicketHub(src.url, 200);
  await withClient(src.url, (c) => c.query(`UPDATE public.telegram_users SET first_name = $1, phone = $2 WHERE id = (SELECT min(id) FROM public.telegram_users)`, [MARKER_NAME, MARKER_PHONE]));
  expected = await hashesOf(src.url);
  ({ storage, dir, url: storageUrl } = await tempStorage());
  work = await mkdtemp(path.join(os.tmpdir(), 'tickethub-enc-'));
  const kp = await generateKeyPair();
  recipient = kp.recipient;
  keyFile = path.join(work, 'key.txt');
  await writeFile(keyFile, `# test identity\n${kp.identity}\n`, { mode: 0o600 });
  otherKeyFile = path.join(work, 'other.txt');
  await writeFile(otherKeyFile, `${(await generateKeyPair()).identity}\n`, { mode: 0o600 });
  result = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', encryptionRecipients: [recipient] });
  id = result.id;
}, 300_000);

afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('encrypted backups (age)', () => {
  it('stores <id>.sql.gz.age and a manifest that says encrypted, to whom, with plaintext member and ciphertext hashes; no plaintext byte of a row reaches storage', async () => {
    const files = (await readdir(dir)).filter((f) => f.startsWith(id));
    expect(files.sort()).toEqual([encryptedArchiveKey(id), manifestKey(id)].sort());
    const manifest = JSON.parse(await readFile(path.join(dir, manifestKey(id)), 'utf8')) as Manifest;
    expect(manifest.encryption).toMatchObject({ method: 'age', recipients: [recipient] });
    expect(manifest.archive.key).toBe(encryptedArchiveKey(id));
    const ct = await readFile(path.join(dir, encryptedArchiveKey(id)));
    expect(manifest.encryption!.ciphertext.sizeBytes).toBe(ct.length);
    expect(manifest.encryption!.ciphertext.sha256).toBe((await import('node:crypto')).createHash('sha256').update(ct).digest('hex'));
    expect(manifest.entries.every((e) => /^[0-9a-f]{64}$/.test(e.sha256))).toBe(true);
    expect(ct.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(() => gunzipSync(ct)).toThrow();
    // Every stored byte, raw: neither the customer's name nor phone number (nor any row's text) is there.
    for (const f of files) {
      const bytes = await readFile(path.join(dir, f));
      expect(bytes.includes(Buffer.from(MARKER_NAME)), f).toBe(false);
      expect(bytes.includes(Buffer.from(MARKER_PHONE)), f).toBe(false);
      expect(bytes.includes(Buffer.from('COPY "public"')), f).toBe(false);
    }
  });

  it('its size is the stored (encrypted) file everywhere: the result, backup_runs (API, dashboard), list and list --json marked (age); migration 007 fixes runs recorded with the gzip size', async () => {
    const stored = (await readFile(path.join(dir, encryptedArchiveKey(id)))).length;
    expect(stored).not.toBe(result.manifest.archive.sizeBytes); // header and tags: the two sizes differ
    expect(result.sizeBytes).toBe(stored);
    const row = async () => withClient(src.url, async (c) => Number((await c.query(`SELECT size_bytes FROM public.backup_runs WHERE id = $1`, [id])).rows[0].size_bytes));
    expect(await row()).toBe(stored);
    const json = cli(['list', '--json', '--storage', storageUrl]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id, status: 'succeeded', sizeBytes: stored, encrypted: true })]);
    const table = cli(['list', '--storage', storageUrl]);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+\\S+\\s+\\d+\\s+[0-9,]+\\s+[0-9.]+ KB \\(age\\)\\s+succeeded$`, 'm'));
    // A run recorded before the rule (gzip size) gets the stored size from its manifest.
    await withClient(src.url, (c) => c.query(`UPDATE public.backup_runs SET size_bytes = $2 WHERE id = $1`, [id, result.manifest.archive.sizeBytes]));
    await withClient(src.url, async (c) => c.query(await readFile(path.join(ROOT, 'db/migrations/007_stored_backup_size.sql'), 'utf8')));
    expect(await row()).toBe(stored);
  });

  it.skipIf(!HAS_AGE)('`age -d -i key | gunzip | psql` restores it exactly with standard tools', async () => {
    const target = await emptyDb();
    const sql = execFileSync('bash', ['-c', `age -d -i "${keyFile}" "${path.join(dir, encryptedArchiveKey(id))}" | gunzip -c`], { maxBuffer: 1 << 30 });
    expect(sql.includes(Buffer.from(MARKER_NAME))).toBe(true);
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target.url], { input: sql, maxBuffer: 1 << 30 });
    expect(await hashesOf(target.url)).toEqual(expected);
  });

  it('restore --identity is exact; a wrong identity or none refuses with one line and leaves the target empty', async () => {
    const wrong = await emptyDb();
    const bad = cli(['restore', id, '--storage', storageUrl, '--target-url', wrong.url, '--identity', otherKeyFile, '--yes']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('the identity does not decrypt this backup');
    expect(await tableCount(wrong.url)).toBe(0);

    const none = cli(['restore', id, '--storage', storageUrl, '--target-url', wrong.url, '--yes']);
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toMatch(/is encrypted \(age\): give the identity with --identity FILE or BACKUP_ENCRYPTION_IDENTITY/);
    expect(await tableCount(wrong.url)).toBe(0);

    const target = await emptyDb();
    const ok = cli(['restore', id, '--storage', storageUrl, '--target-url', target.url, '--identity', keyFile, '--yes']);
    expect(ok.stderr).not.toMatch(/error/i);
    expect(ok.code).toBe(0);
    expect(await hashesOf(target.url)).toEqual(expected);

    // The identity may also come from BACKUP_ENCRYPTION_IDENTITY, as the key itself.
    const viaEnv = await emptyDb();
    const key = (await readFile(keyFile, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const env = cli(['restore', id, '--storage', storageUrl, '--target-url', viaEnv.url, '--yes'], { BACKUP_ENCRYPTION_IDENTITY: key });
    expect(env.code).toBe(0);
    expect(await hashesOf(viaEnv.url)).toEqual(expected);
  });

  it('verify without an identity checks the ciphertext and says it could not look inside; with one it checks every member; a flipped ciphertext byte is caught either way', async () => {
    const outside = cli(['verify', id, '--storage', storageUrl]);
    expect(outside.code).toBe(0);
    expect(outside.stdout).toContain('could not look inside');
    const inside = cli(['verify', id, '--storage', storageUrl, '--identity', keyFile, '--json']);
    expect(inside.code).toBe(0);
    const v = JSON.parse(inside.stdout);
    expect(v.verify).toMatchObject({ ok: true, archiveSha256Ok: true, encryption: { ciphertextOk: true, lookedInside: true } });

    const file = path.join(dir, encryptedArchiveKey(id));
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length - 100] ^= 0x01;
    await writeFile(file, bad);
    try {
      const o = cli(['verify', id, '--storage', storageUrl]);
      expect(o.code).toBe(1);
      expect(o.stderr).toMatch(/encrypted archive SHA-256 [0-9a-f]{64} does not match/);
      const target = await emptyDb();
      const r = cli(['restore', id, '--storage', storageUrl, '--target-url', target.url, '--identity', keyFile, '--yes']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(await tableCount(target.url)).toBe(0);
    } finally {
      await writeFile(file, good);
    }
  });

  it('a failure inside encryption fails the backup and leaves nothing in storage (never a plaintext fallback)', async () => {
    const before = new Set(await readdir(dir));
    const broken: Recipient = {
      wrapFileKey() {
        throw new Error('HSM unreachable');
      },
    };
    await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli', encryptionRecipients: [recipient, broken] })).rejects.toThrow(/HSM unreachable/);
    // A typo in the setting is a failure too, not "unencrypted".
    const saved = process.env.BACKUP_ENCRYPTION_RECIPIENTS;
    process.env.BACKUP_ENCRYPTION_RECIPIENTS = `${recipient},age1notakey`;
    try {
      await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).rejects.toThrow(/"age1notakey" is not an age recipient/);
    } finally {
      if (saved === undefined) delete process.env.BACKUP_ENCRYPTION_RECIPIENTS;
      else process.env.BACKUP_ENCRYPTION_RECIPIENTS = saved;
    }
    expect((await readdir(dir)).filter((f) => !before.has(f))).toEqual([]);
    const runs = await withClient(src.url, (c) => c.query(`SELECT status FROM public.backup_runs WHERE id <> $1 ORDER BY started_at`, [id]));
    expect(runs.rows.map((r) => r.status)).toEqual(['failed', 'failed']);
  });

  it('recipients: comma/newline lists and files; private keys and garbage refused; status for the stats API', async () => {
    const two = (await generateKeyPair()).recipient;
    expect(encryptionRecipients(`${recipient}, ${two}`)).toEqual([recipient, two]);
    const file = path.join(work, 'recipients.txt');
    await writeFile(file, `# ops team\n${recipient}\n\n${two}\n`);
    expect(encryptionRecipients(file)).toEqual([recipient, two]);
    expect(encryptionRecipients('')).toBeNull();
    const privateKey = (await readFile(keyFile, 'utf8')).split('\n')[1];
    expect(() => encryptionRecipients(privateKey)).toThrow(/PRIVATE key/);
    // Pasted in lower case it is still a private key: refused as one, and none of it in the message
    // (the stats API, the dashboard and failure alerts show this error).
    const lower = privateKey.toLowerCase();
    expect(() => encryptionRecipients(lower)).toThrow(/PRIVATE key/);
    expect(() => encryptionRecipients(lower)).not.toThrow(lower.slice('age-secret-key-1'.length, 'age-secret-key-1'.length + 6));
    expect(() => encryptionRecipients('/nonexistent/recipients.txt')).toThrow(/cannot read \/nonexistent\/recipients.txt \(ENOENT\)/);
    const saved = process.env.BACKUP_ENCRYPTION_RECIPIENTS;
    try {
      delete process.env.BACKUP_ENCRYPTION_RECIPIENTS;
      expect(encryptionStatus()).toEqual({ encrypted: false, encryptionRecipients: 0 });
      process.env.BACKUP_ENCRYPTION_RECIPIENTS = `${recipient}\n${two}`;
      expect(encryptionStatus()).toEqual({ encrypted: true, encryptionRecipients: 2 });
    } finally {
      if (saved === undefined) delete process.env.BACKUP_ENCRYPTION_RECIPIENTS;
      else process.env.BACKUP_ENCRYPTION_RECIPIENTS = saved;
    }
  });

  it.skipIf(!HAS_AGE)('the age stream matches the age binary at chunk boundaries (empty, 64 KiB exactly, 64 KiB + 1, odd pieces), both ways', async () => {
    const key = (await readFile(keyFile, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    for (const size of [0, 1, 65536, 65537, 3 * 65536, 300_001]) {
      const data = randomBytes(size);
      const pieces: Buffer[] = [];
      for (let i = 0; i < size; ) {
        const n = 1 + ((i * 7919) % 90_000);
        pieces.push(data.subarray(i, i + n));
        i += n;
      }
      const ours = await buffer(Readable.from(pieces).pipe(await createAgeEncryptStream([recipient])));
      const f = path.join(work, `s${size}.age`);
      await writeFile(f, ours);
      expect(execFileSync('age', ['-d', '-i', keyFile, f], { maxBuffer: 1 << 26 }).equals(data), `age -d, ${size} bytes`).toBe(true);
      const theirs = execFileSync('age', ['-e', '-r', recipient], { input: data, maxBuffer: 1 << 26 });
      expect((await buffer(Readable.from([theirs]).pipe(createAgeDecryptStream([key])))).equals(data), `ours -d, ${size} bytes`).toBe(true);
      // Truncating a valid file by one chunk is caught (the last-chunk flag), not read as a shorter archive.
      if (size > 65536) {
        const cut = ours.subarray(0, ours.length - (65536 + 16));
        await expect(buffer(Readable.from([cut]).pipe(createAgeDecryptStream([key])))).rejects.toThrow(/does not authenticate|truncated/);
      }
    }
  });

  it.skipIf(!HAS_AGE)('keygen prints an identity file age reads, its recipient, and advice to keep it off the server', () => {
    const r = cli(['keygen']);
    expect(r.code).toBe(0);
    const printed = /public key: (age1[0-9a-z]+)/.exec(r.stdout)?.[1];
    expect(printed).toBeTruthy();
    const f = path.join(work, 'gen.txt');
    execFileSync('bash', ['-c', `cat > "${f}"`], { input: r.stdout });
    expect(execFileSync('age-keygen', ['-y', f], { encoding: 'utf8' }).trim()).toBe(printed);
    expect(r.stderr).toMatch(/OFF the app server/);
    expect(r.stderr).toContain(`BACKUP_ENCRYPTION_RECIPIENTS=${printed}`);
  });
});
