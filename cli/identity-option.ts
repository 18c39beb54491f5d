import path from 'node:path';
import { encryptionIdentities } from '../lib/backup/encryption/encryption-keys';

/** Help text of --identity, shared by the commands that read archives. */
export const IDENTITY_HELP = `  --identity FILE   age identity file (AGE-SECRET-KEY-1…) for encrypted backups
                    (default: BACKUP_ENCRYPTION_IDENTITY, a file path or the key itself)`;

/**
 * `--identity FILE`: checked now (one line when unreadable or not an age identity), then handed to
 * every archive reader of this process through BACKUP_ENCRYPTION_IDENTITY, the one place the
 * library reads identities from (restore, verify, drill and the dashboard share it).
 */
export function applyIdentityOption(file: string | undefined): void {
  if (file === undefined) return;
  encryptionIdentities(file);
  process.env.BACKUP_ENCRYPTION_IDENTITY = path.resolve(file);
}
