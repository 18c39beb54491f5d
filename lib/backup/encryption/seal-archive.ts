import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline, Transform } from 'node:stream';
import type { Recipient } from 'age-encryption';
import type { ManifestEncryption } from '../manifest';
import { archiveKey, encryptedArchiveKey } from '../manifest';

/** What storage receives for a backup's archive. */
export interface SealedArchive {
  /** Storage key: `<id>.sql.gz`, or `<id>.sql.gz.age` when encrypted. */
  key: string;
  /** The bytes to store (the archive itself, or its encryption as it streams). */
  stream: Readable;
  /** After the stream ended: the manifest's `encryption` (undefined when not encrypted). */
  encryption(): ManifestEncryption | undefined;
}

/**
 * Puts the archive stream into its stored form. With recipients (BACKUP_ENCRYPTION_RECIPIENTS),
 * it is encrypted with age while it streams — nothing is buffered or spooled in plaintext — and
 * the ciphertext's size and SHA-256 are taken on the way out. Any encryption failure destroys the
 * whole chain: the archive writer and storage.put both fail, so the backup fails; there is no
 * plaintext fallback. `recipients` may hold Recipient objects (tests inject failing ones).
 */
export async function sealArchive(id: string, archive: Readable, recipients: (string | Recipient)[] | null): Promise<SealedArchive> {
  if (!recipients) return { key: archiveKey(id), stream: archive, encryption: () => undefined };
  // Loaded only for an encrypted backup: age-encryption and its post-quantum dependencies are a
  // large part of the backup command's start-up.
  const encrypt = await (await import('./age-stream')).createAgeEncryptStream(recipients);
  const hash = createHash('sha256');
  let size = 0;
  let sha: string | undefined;
  const measured = new Transform({
    transform(c: Buffer, _e, done) {
      hash.update(c);
      size += c.length;
      done(null, c);
    },
    flush(done) {
      sha = hash.digest('hex');
      done();
    },
  });
  pipeline(archive, encrypt, measured, () => {});
  return {
    key: encryptedArchiveKey(id),
    stream: measured,
    encryption() {
      if (sha === undefined) throw new Error('the encrypted archive has not ended');
      return {
        method: 'age',
        recipients: recipients.map((r) => (typeof r === 'string' ? r : 'custom')),
        ciphertext: { sizeBytes: size, sha256: sha },
      };
    },
  };
}
