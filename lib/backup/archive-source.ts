import type { Readable } from 'node:stream';

/**
 * Where a backup's archive and manifest are read from: a storage backend (by id) or a downloaded
 * archive file (manifest beside it as `<id>.manifest.json`). Verify, restore and drills read only
 * through this, so they behave the same for every origin.
 */
export interface ArchiveSource {
  /** Human-readable origin for messages, e.g. `backup 2026...-ab12cd in file:///var/backups`. */
  readonly label: string;
  /** The backup id (from the file name when reading a file). */
  readonly id: string;
  /** The manifest's raw text; rejects with AppError 'not_found' when there is none. */
  manifestText(): Promise<string>;
  /** The archive's size in bytes; rejects with 'not_found' when it is missing. */
  archiveSize(): Promise<number>;
  /** The archive's bytes (whole, or the inclusive range). */
  openArchive(range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Encrypted backups only (null otherwise): checks the stored ciphertext's size and SHA-256
   * against the manifest without any key, and says whether an identity is at hand to look inside.
   */
  checkCiphertext?(): Promise<{ problems: string[]; canDecrypt: boolean } | null>;
  /**
   * Encrypted backups only (a no-op otherwise): rejects with AppError 'config' when the identity at
   * hand is not one of the manifest's recipients' (or, with `required`, when there is none). A
   * wrong or missing key is the operator's problem, never a finding about the backup: callers that
   * record a verdict (verify, drills) ask first and record nothing when it rejects.
   */
  checkIdentity?(required: boolean): Promise<void>;
  /**
   * True when a ranged read costs a read from the archive's start (an encrypted backup: age has
   * no random access). Readers that need many ranges spool the archive once instead (archive-spool).
   */
  rangesReadFromStart?(): Promise<boolean>;
  /**
   * The SHA-256 (hex) of the whole archive, where the source can compute it cheaper than by
   * hashing openArchive()'s stream (a local plain file: read into one reused buffer, no fresh
   * memory per chunk); null or absent: hash the stream.
   */
  archiveSha256?(signal?: AbortSignal): Promise<string | null>;
}
