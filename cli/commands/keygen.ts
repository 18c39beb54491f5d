import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'print a new age identity (private key) and its recipient, for encrypted backups';

const USAGE = `Usage: tickethub-backup keygen

Prints a new age X25519 identity in age's key-file format (the same as \`age-keygen\`): save it to a
file that is NOT on the app server, and put the recipient (age1…) in BACKUP_ENCRYPTION_RECIPIENTS.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {}, USAGE, 0);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { identity, recipient } = await generateKeyPair();
  // The key file on stdout (redirect it: `keygen > backup-key.txt`); the advice on stderr.
  process.stdout.write(`# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`);
  process.stderr.write(
    [
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
