import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encryptionIdentities } from '../../lib/backup/encryption/encryption-keys';
import { tempDir } from '../helpers/temp-dirs';

// `tickethub-backup keygen` writes a PRIVATE key: the file it ends up in must be the owner's alone
// (age-keygen -o writes 0600 and never overwrites), whichever way the README's users write it.

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');
const HAS_AGE = spawnSync('age-keygen', ['--help']).error === undefined;

/** Runs keygen through a shell with the usual umask (022: new files 0644). */
function keygen(shellArgs: string) {
  const r = spawnSync('bash', ['-c', `umask 022; "${process.execPath}" "${BIN}" keygen ${shellArgs}`], { cwd: ROOT, encoding: 'utf8', input: '' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mode = async (f: string) => (await stat(f)).mode & 0o777;

describe('keygen', () => {
  it('`keygen > backup-key.txt` (as the README says) leaves the key file 0600, not world-readable', async () => {
    const dir = await tempDir('keygen-');
    const f = path.join(dir, 'backup-key.txt');
    const r = keygen(`> "${f}"`);
    expect(r.code, r.stderr).toBe(0);
    expect(encryptionIdentities(f)).toHaveLength(1);
    expect(await mode(f)).toBe(0o600);
  });

  it('`keygen -o FILE` writes the identity 0600, prints only the recipient, and refuses to overwrite an existing file', async () => {
    const dir = await tempDir('keygen-');
    const f = path.join(dir, 'key.txt');
    const r = keygen(`-o "${f}"`);
    expect(r.code, r.stderr).toBe(0);
    expect(await mode(f)).toBe(0o600);
    const text = await readFile(f, 'utf8');
    const recipient = /# public key: (age1[0-9a-z]+)/.exec(text)?.[1];
    expect(recipient).toBeTruthy();
    expect(encryptionIdentities(f)).toHaveLength(1);
    const key = text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    expect(r.stdout + r.stderr).not.toContain(key.slice(16, 40));
    expect(r.stderr).toContain(`BACKUP_ENCRYPTION_RECIPIENTS=${recipient}`);
    if (HAS_AGE) expect(spawnSync('age-keygen', ['-y', f], { encoding: 'utf8' }).stdout.trim()).toBe(recipient);

    // A second run on the same file: one line, exit 1, the first key untouched (it may already encrypt backups).
    const again = keygen(`--output "${f}"`);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already exists/);
    expect(await readFile(f, 'utf8')).toBe(text);

    // Any existing file, even empty, is refused the same way.
    const empty = path.join(dir, 'empty.txt');
    await writeFile(empty, '');
    expect(keygen(`-o "${empty}"`).code).toBe(1);
    expect(await readFile(empty, 'utf8')).toBe('');
  });
});
