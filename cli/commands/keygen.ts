import { fchmodSync, fstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { AppError } from '../../lib/errors';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'print a new age identity (private key) and its recipient, for encrypted backups';

const USAGE = `Usage: tickethub-backup keygen [-o FILE]

Prints a new age X25519 identity in age's key-file format (the same as \`age-keygen\`): save it to a
file that is NOT on the app server, and put the recipient (age1…) in BACKUP_ENCRYPTION_RECIPIENTS.

  -o, --output FILE   write the identity to FILE (created 0600; an existing FILE is never
                      overwritten) instead of standard output`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { output: { type: 'string', short: 'o' } }, USAGE, 0);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const output = values.output as string | undefined;
  // Created before the key exists: an existing file (perhaps the key that encrypts every backup)
  // is refused, never replaced.
  const file = output === undefined ? undefined : await open(output, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new AppError('config', err.code === 'EEXIST' ? `${output} already exists: keygen never overwrites a key file (it may be the key your backups need); choose another name` : `cannot create ${output} (${err.code ?? err.message})`);
  });
  const { identity, recipient } = await generateKeyPair();
  const keyFile = `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`;
  if (file) {
    try {
      await file.writeFile(keyFile);
      await file.chmod(0o600); // (the mode given to open is masked by the umask)
    } finally {
      await file.close();
    }
  } else {
    // `keygen > backup-key.txt`: the shell created that file with the umask's mode (usually 0644,
    // readable by every user of the machine). Made the owner's alone before the key is written.
    let tightened = false;
    try {
      const st = fstatSync(1);
      if (st.isFile() && (st.mode & 0o077) !== 0) {
        fchmodSync(1, 0o600);
        tightened = true;
      }
    } catch {
      // not ours to change (another owner): age-keygen warns in the same case
      process.stderr.write('warning: the identity goes to a file other users may read: use keygen -o FILE\n');
    }
    process.stdout.write(keyFile);
    if (tightened) process.stderr.write('The file on standard output was made readable by its owner only (0600).\n');
  }
  process.stderr.write(
    [
      ...(file ? [`Wrote the identity to ${output} (0600).`] : []),
      `Public key (recipient): ${recipient}`,
      `  On the app server set BACKUP_ENCRYPTION_RECIPIENTS=${recipient}`,
      'The identity (AGE-SECRET-KEY-1…) decrypts every backup made for this recipient:',
      '  keep it OFF the app server (a password manager, an offline USB key, a second admin\'s machine),',
      '  in two places: without it the encrypted backups cannot be restored by anyone.',
      '  Restore with: tickethub-backup restore <id> --identity key.txt   or   age -d -i key.txt <id>.sql.gz.age | gunzip | psql …',
      '',
    ].join('\n'),
  );
  return 0;
}
