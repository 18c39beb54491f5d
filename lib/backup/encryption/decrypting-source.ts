import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline, Transform } from 'node:stream';
import { AppError } from '../../errors';
import type { ArchiveSource } from '../archive-source';
import type { ManifestEncryption } from '../manifest';

// age-encryption (and its post-quantum dependencies) is a third of the restore command's start-up:
// loaded only for a backup that is encrypted.
const identities = async () => (await import('./encryption-keys')).encryptionIdentities();

/** The stored encrypted file of a backup (`<id>.sql.gz.age`), wherever it lives. */
export interface Ciphertext {
  /** Its size; rejects with AppError 'not_found' when it is missing. */
  size(): Promise<number>;
  open(): Promise<Readable>;
}

/** What an encrypted backup's manifest says (loosely read: parseManifest judges the rest). */
function encryptionOf(text: string): { enc: ManifestEncryption; plainSize: number } | null {
  try {
    const m = JSON.parse(text) as { encryption?: ManifestEncryption; archive?: { sizeBytes?: number } };
    const e = m.encryption;
    if (!e || typeof e !== 'object') return null;
    if (e.method !== 'age' || typeof e.ciphertext?.sizeBytes !== 'number' || typeof e.ciphertext?.sha256 !== 'string') {
      throw new AppError('corrupt', `manifest: unknown or malformed encryption ${JSON.stringify(e.method ?? null)}`);
    }
    return { enc: e, plainSize: Number(m.archive?.sizeBytes) };
  } catch (err) {
    if (err instanceof AppError) throw err;
    return null; // not JSON: parseManifest reports it
  }
}

/** Hashes what passes through; at the end, fails the stream if size or SHA-256 differ from `want`. */
function ciphertextGate(want: ManifestEncryption['ciphertext']): Transform {
  const h = createHash('sha256');
  let n = 0;
  return new Transform({
    transform(c: Buffer, _e, done) {
      h.update(c);
      n += c.length;
      done(null, c);
    },
    flush(done) {
      const sha = h.digest('hex');
      if (n !== want.sizeBytes || sha !== want.sha256) done(new AppError('corrupt', `encrypted archive has ${n} bytes and SHA-256 ${sha}, the manifest says ${want.sizeBytes} and ${want.sha256} (replaced or tampered)`));
      else done();
    },
  });
}

/** Passes only bytes start..end (inclusive) of the stream, then stops reading it. */
function slice(range: { start: number; end: number }, upstream: () => void): Transform {
  let pos = 0;
  return new Transform({
    transform(c: Buffer, _e, done) {
      const from = Math.max(0, range.start - pos);
      const to = Math.min(c.length, range.end + 1 - pos);
      pos += c.length;
      if (to > from) this.push(c.subarray(from, to));
      if (pos > range.end) {
        this.push(null);
        upstream(); // the rest need not be decrypted
      }
      done();
    },
  });
}

/** One line for "this backup is encrypted and no key was given". */
export function identityNeeded(label: string): AppError {
  return new AppError('config', `${label} is encrypted (age): give the identity with --identity FILE or BACKUP_ENCRYPTION_IDENTITY to look inside`);
}

/** One line for "this identity is not for this backup" (the recipients are public keys: safe to name). */
export function wrongIdentity(recipients: string[]): AppError {
  return new AppError('config', `the identity does not decrypt this backup (it was encrypted to ${recipients.join(', ')}): give the matching --identity or BACKUP_ENCRYPTION_IDENTITY`);
}

/**
 * An ArchiveSource whose archive may be stored encrypted: when the manifest has `encryption`, the
 * archive is `ciphertext` (not `plain`'s file) and reads come out decrypted with the identities of
 * BACKUP_ENCRYPTION_IDENTITY (the CLI's --identity sets it): the same gzip bytes, offsets and
 * hashes as an unencrypted backup. Without an identity every archive read fails with one line
 * (before any target is touched); `checkCiphertext` still works. Byte ranges are served by
 * decrypting from the start of the file (age has no random access).
 */
export function decryptingSource(plain: ArchiveSource, ciphertext: Ciphertext): ArchiveSource {
  let manifest: Promise<string> | undefined;
  const text = () => (manifest ??= plain.manifestText());
  // Parsed once: every ranged read asks (a --jobs restore of a 5,000-table catalog makes thousands,
  // and re-parsing a 12 MB manifest for each was most of its CPU).
  let parsed: Promise<ReturnType<typeof encryptionOf>> | undefined;
  const encrypted = () => (parsed ??= text().then(encryptionOf));
  return {
    label: plain.label,
    id: plain.id,
    manifestText: text,
    async archiveSize() {
      const e = await encrypted();
      if (!e) return plain.archiveSize();
      const size = await ciphertext.size();
      if (!(await identities())) throw identityNeeded(plain.label);
      // The plaintext size is not stored anywhere else: a ciphertext of another size shows up as a
      // plaintext of another size (and fails the size check of every reader).
      return e.plainSize + (size - e.enc.ciphertext.sizeBytes);
    },
    async openArchive(range) {
      const e = await encrypted();
      if (!e) return plain.openArchive(range);
      const ids = await identities();
      if (!ids) throw identityNeeded(plain.label);
      const ct = await ciphertext.open();
      const decrypt = (await import('./age-stream')).createAgeDecryptStream(ids);
      const gate = ciphertextGate(e.enc.ciphertext);
      const parts: (Readable | Transform)[] = [ct, gate, decrypt];
      if (range) parts.push(slice(range, () => ct.destroy()));
      const last = parts[parts.length - 1] as Readable;
      pipeline(parts as [Readable, ...Transform[]], (err) => {
        // A range read stops its source on purpose; that is not an error of the reader's stream.
        if (err && !last.readableEnded) last.destroy(err);
      });
      return last;
    },
    async rangesReadFromStart() {
      return Boolean(await encrypted());
    },
    async archiveSha256(signal) {
      // Only the plain archive's own file: a decrypted archive is hashed as it is decrypted.
      if (await encrypted()) return null;
      return (await plain.archiveSha256?.(signal)) ?? null;
    },
    async checkIdentity(required) {
      const e = await encrypted();
      if (!e) return;
      const ids = await identities();
      if (!ids) {
        if (required) throw identityNeeded(plain.label);
        return;
      }
      // The manifest names the recipients (public keys): an identity none of them belongs to cannot
      // open the file. (An identity that IS a recipient but does not open the header: the file was
      // changed, which the readers report as the backup's problem.)
      const theirs = (Array.isArray(e.enc.recipients) ? e.enc.recipients : []).filter((r): r is string => typeof r === 'string' && /^age1/.test(r));
      if (!theirs.length) return;
      const { identityToRecipient } = await import('age-encryption');
      const mine = await Promise.all(ids.map((i) => identityToRecipient(i).catch(() => null)));
      if (mine.some((r) => r === null)) return; // a kind we cannot compare: the header decides
      if (!mine.some((r) => theirs.includes(r!))) throw wrongIdentity(theirs);
    },
    async checkCiphertext() {
      const e = await encrypted();
      if (!e) return null;
      const want = e.enc.ciphertext;
      const size = await ciphertext.size();
      const h = createHash('sha256');
      for await (const c of await ciphertext.open()) h.update(c as Buffer);
      const sha = h.digest('hex');
      const problems: string[] = [];
      if (size !== want.sizeBytes) problems.push(`encrypted archive has ${size} bytes, the manifest says ${want.sizeBytes}${size < want.sizeBytes ? ' (truncated)' : ''}`);
      if (sha !== want.sha256) problems.push(`encrypted archive SHA-256 ${sha} does not match the manifest's ${want.sha256}`);
      return { problems, canDecrypt: Boolean(await identities()) };
    },
  };
}
