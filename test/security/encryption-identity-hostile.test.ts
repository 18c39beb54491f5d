import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptionIdentities, encryptionRecipients, generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { encryptedArchiveKey } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import { verifyBackup } from '../../lib/backup/verify';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { tempDir } from '../helpers/temp-dirs';
import { seedTicketHub, tempStorage } from '../backup/restore-test-helpers';

// Hostile review of encryption at rest (issue 12): what an operator's wrong, missing or oddly
// written identity does to verify, drills and the recorded state of a GOOD encrypted backup, and
// that no private key is ever echoed into an error (errors reach backup_runs, alerts, the
// dashboard's configuration card and the activity log).

const ROOT = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string> = {}) {
  const base = { ...process.env };
  for (const k of ['DATABASE_URL', 'BACKUP_STORAGE_URL', 'BACKUP_ENCRYPTION_RECIPIENTS', 'BACKUP_ENCRYPTION_IDENTITY', 'BACKUP_SIGNING_KEY']) delete base[k];
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env }, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let src: TestDatabase;
let storage: StorageBackend;
let storageUrl: string;
let storageDir: string;
let work: string;
let keyFile: string;
let otherKeyFile: string;
let identity: string;
let recipient: string;
let id: string;

const runRow = () =>
  withClient(src.url, async (c) => (await c.query(`SELECT verified_at, verification, drill_at, drill FROM public.backup_runs WHERE id = $1`, [id])).rows[0]);

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'encid' });
  await seedTicketHub(src.url, 50);
  ({ storage, url: storageUrl, dir: storageDir } = await tempStorage());
  work = await tempDir('tickethub-encid-');
  const kp = await generateKeyPair();
  identity = kp.identity;
  recipient = kp.recipient;
  keyFile = path.join(work, 'key.txt');
  await writeFile(keyFile, `# created: now\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
  otherKeyFile = path.join(work, 'other.txt');
  await writeFile(otherKeyFile, `${(await generateKeyPair()).identity}\n`, { mode: 0o600 });
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', encryptionRecipients: [recipient] })).id;
}, 300_000);

afterAll(async () => {
  await storage?.close();
  await src?.drop();
});

describe('a wrong or missing identity is the operator\'s problem, never the backup\'s', () => {
  it('verify with the wrong identity: one line naming the cause, exit 1, and the good backup is not recorded as failed', async () => {
    const before = await runRow();
    const r = cli(['verify', id, '--storage', storageUrl, '--identity', otherKeyFile], { DATABASE_URL: src.url });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/the identity does not decrypt this backup/);
    expect(r.stderr).not.toMatch(/truncated/);
    // The library says it the same way (the dashboard's verify route records what it returns).
    const saved = process.env.BACKUP_ENCRYPTION_IDENTITY;
    process.env.BACKUP_ENCRYPTION_IDENTITY = otherKeyFile;
    try {
      await expect(verifyBackup(storage, id)).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/the identity does not decrypt this backup/) });
    } finally {
      if (saved === undefined) delete process.env.BACKUP_ENCRYPTION_IDENTITY;
      else process.env.BACKUP_ENCRYPTION_IDENTITY = saved;
    }
    expect(await runRow()).toEqual(before);
  });

  it('verify --drill without an identity, or with the wrong one: one line, exit 1, no drill recorded (prune still counts the backup as good)', async () => {
    for (const extra of [[], ['--identity', otherKeyFile]]) {
      const r = cli(['verify', id, '--drill', '--storage', storageUrl, ...extra], { DATABASE_URL: src.url });
      expect(r.code, extra.join(' ')).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1), r.stderr).toMatch(extra.length ? /the identity does not decrypt this backup/ : /is encrypted \(age\): give the identity/);
      expect(r.stderr).not.toMatch(/drill FAILED|truncated/);
      const row = await runRow();
      expect(row.drill_at, extra.join(' ')).toBeNull();
      expect(row.drill).toBeNull();
    }
    const prune = cli(['prune', '--dry-run', '--json', '--storage', storageUrl], { DATABASE_URL: src.url });
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).not.toMatch(/drill failed/);
    // With the right identity the drill runs and passes.
    const ok = cli(['verify', id, '--drill', '--storage', storageUrl, '--identity', keyFile], { DATABASE_URL: src.url });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await runRow()).drill).toMatchObject({ ok: true });
  }, 120_000);
});

describe('identity and recipient values as people paste them', () => {
  it('a key file saved with CRLF line ends (comments included) works like the same file with LF', async () => {
    const crlf = path.join(work, 'crlf.txt');
    await writeFile(crlf, (await readFile(keyFile, 'utf8')).replace(/\n/g, '\r\n'), { mode: 0o600 });
    expect(encryptionIdentities(crlf)).toEqual([identity]);
    const recipients = path.join(work, 'recipients-crlf.txt');
    await writeFile(recipients, `# ops team\r\n${recipient}\r\n`);
    expect(encryptionRecipients(recipients)).toEqual([recipient]);
    const r = cli(['verify', id, '--storage', storageUrl, '--identity', crlf]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('an identity file other users can read: still used, with one warning line naming the fix (as ssh would refuse it)', async () => {
    const open = path.join(work, 'open-key.txt');
    await writeFile(open, await readFile(keyFile, 'utf8'));
    await chmod(open, 0o644);
    const r = cli(['verify', id, '--storage', storageUrl, '--identity', open]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => /open-key/.test(l))).toEqual([`tickethub-backup: warning: the identity file ${open} is readable by other users (mode 0644): chmod 600 ${open}`]);
    const tight = cli(['verify', id, '--storage', storageUrl, '--identity', keyFile]);
    expect(tight.stderr).not.toMatch(/readable by other users/);
  });

  it('the whole key file in the variable ("$(cat key.txt)", comments first) is the key, not a file name', () => {
    expect(encryptionIdentities(undefined, `# created: now\n# public key: ${recipient}\n${identity}\n`)).toEqual([identity]);
    expect(encryptionRecipients(`# ops team\n${recipient}\n`)).toEqual([recipient]);
  });

  it('a passphrase-protected (age-encrypted) identity file is named as such', async () => {
    const enc = path.join(work, 'key.age');
    // What `age -p -o key.age key.txt` writes (a scrypt stanza); any age file is refused the same way.
    await writeFile(enc, 'age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\nAAAA\n--- AAAA\n\u0000\u0001binary');
    expect(() => encryptionIdentities(enc)).toThrow(/is an encrypted age file \(a passphrase-protected identity\?\): decrypt it first/);
    const armored = path.join(work, 'key.asc');
    await writeFile(armored, '-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCg==\n-----END AGE ENCRYPTED FILE-----\n');
    expect(() => encryptionIdentities(armored)).toThrow(/is an encrypted age file/);
  });

  it('a private key written wrongly (quotes, KEY=, export …) is refused without echoing any of it, in every setting and on the CLI', () => {
    const secretPart = identity.slice('AGE-SECRET-KEY-1'.length, 'AGE-SECRET-KEY-1'.length + 12);
    const variants = [`"${identity}"`, `'${identity}'`, `BACKUP_ENCRYPTION_IDENTITY=${identity}`, `export ${identity}`, ` ${identity.toLowerCase()}x`];
    for (const v of variants) {
      for (const f of [() => encryptionIdentities(undefined, v), () => encryptionRecipients(v)]) {
        let message = '';
        try {
          f();
        } catch (err) {
          message = (err as Error).message;
        }
        expect(message, v).not.toBe('');
        expect(message.toUpperCase(), v).not.toContain(secretPart.toUpperCase());
      }
    }
    // As the CLI shows it (stderr, --json): a backup with the broken recipients setting, a verify with the broken identity.
    const b = cli(['backup', '--database-url', src.url, '--storage', storageUrl, '--json'], { BACKUP_ENCRYPTION_RECIPIENTS: `"${identity}"` });
    expect(b.code).toBe(1);
    expect((b.stdout + b.stderr).toUpperCase()).not.toContain(secretPart.toUpperCase());
    const v = cli(['verify', id, '--storage', storageUrl, '--json'], { BACKUP_ENCRYPTION_IDENTITY: `"${identity}"` });
    expect(v.code).toBe(1);
    expect(v.stderr.trim().split('\n')).toHaveLength(1);
    expect((v.stdout + v.stderr).toUpperCase()).not.toContain(secretPart.toUpperCase());
    // The key itself given to --identity (it would sit in the process list): refused, not echoed.
    const argv = cli(['verify', id, '--storage', storageUrl, '--identity', identity]);
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/--identity takes the path of a key FILE, not the key itself/);
    expect(argv.stderr.toUpperCase()).not.toContain(secretPart.toUpperCase());
  }, 120_000);
});

describe('show of an encrypted backup', () => {
  it('says it is encrypted and to how many recipients; its size and sha256 are the stored file\'s (what `sha256sum` of a download gives), the gzip inside labelled as such', async () => {
    const stored = await readFile(path.join(storageDir, encryptedArchiveKey(id)));
    const r = cli(['show', id, '--storage', storageUrl]);
    expect(r.code, r.stderr).toBe(0);
    const sha = createHash('sha256').update(stored).digest('hex');
    expect(r.stdout).toMatch(new RegExp(`^  sha256     ${sha}  \\(the stored, encrypted file\\)$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}encrypted {2}age, for 1 recipient: age1[0-9a-z]+$/m);
    expect(r.stdout).toMatch(/^ {2}gzip {7}[0-9a-f]{64} {2}\(the gzip archive inside, [0-9.]+ KB\)$/m);
    const archiveLine = r.stdout.split('\n').find((l) => l.startsWith('  archive'))!;
    expect(archiveLine).toContain(`${(stored.length / 1024).toFixed(1)} KB`);
  });
});
