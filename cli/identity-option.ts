import path from 'node:path';

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
  process.env.BACKUP_ENCRYPTION_IDENTITY = path.resolve(file);
}
