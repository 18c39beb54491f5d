import { statSync } from 'node:fs';
import path from 'node:path';
import { printableLines } from './printable';

/** Help text of --identity, shared by the commands that read archives. */
export const IDENTITY_HELP = `  --identity FILE   age identity file (AGE-SECRET-KEY-1…) for encrypted backups
                    (default: BACKUP_ENCRYPTION_IDENTITY, a file path or the key itself)`;

/**
 * `--identity FILE`: checked now (one line when unreadable or not an age identity), then handed to
 * every archive reader of this process through BACKUP_ENCRYPTION_IDENTITY, the one place the
 * library reads identities from (restore, verify, drill and the dashboard share it).
 */
export async function applyIdentityOption(file: string | undefined): Promise<void> {
  if (file === undefined) return;
  // (Loaded only with --identity: age-encryption is a third of a command's start-up.)
  (await import('../lib/backup/encryption/encryption-keys')).encryptionIdentities(file);
  // A key file others can read decrypts every backup for them too: used (age does not refuse it),
  // but said, with the fix.
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) process.stderr.write(printableLines([`tickethub-backup: warning: the identity file ${file} is readable by other users (mode 0${mode.toString(8)}): chmod 600 ${file}`]));
  process.env.BACKUP_ENCRYPTION_IDENTITY = path.resolve(file);
}
