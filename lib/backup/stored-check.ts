import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { isNotFound } from '../storage/storage-backend';
import type { ArchiveProblem } from './manifest';

/** What the backup engine's own check after writing proves (CLI output, backup_runs, README). */
export const STORED_BYTES_PROVED = 'stored bytes identical to what was written (SHA-256 of the archive)';
export const STORED_CIPHERTEXT_PROVED = 'stored bytes identical to what was written (SHA-256 of the encrypted archive)';

/**
 * The outcome of the backup engine's check after writing (BackupResult.verification, the run's
 * `verification` in backup_runs). It proves the stored object is byte for byte what the engine
 * wrote: same size, same SHA-256 as computed while writing (of the gzip stream, or of the
 * ciphertext when encrypted). It does NOT decompress: that the members inflate to the content the
 * manifest describes is what `verify` (scope 'full') and drills prove.
 */
export interface StoredArchiveCheck {
  ok: boolean;
  scope: 'stored-bytes';
  /** One sentence: what `ok` means. */
  proved: string;
  id: string;
  /** The storage key read back. */
  key: string;
  /** What was written: size and SHA-256 of the stored form. */
  sizeBytes: number;
  sha256: string;
  encrypted: boolean;
  /** ISO 8601 time the check finished. */
  checkedAt: string;
  durationMs: number;
  /** Mismatches (empty when ok). */
  problems: ArchiveProblem[];
}

/**
 * Streams the stored object `key` back and hashes its bytes as stored (no decompression, no
 * decryption), comparing size and SHA-256 with `written`. Mismatches (including a missing object)
 * are `problems`; a storage failure (the read itself failing) is thrown as the storage's error, so
 * the caller can tell "storage broken" from "storage holds other bytes".
 */
export async function checkStoredArchive(
  storage: StorageBackend,
  id: string,
  key: string,
  written: { sizeBytes: number; sha256: string; encrypted: boolean },
  opts: { signal?: AbortSignal } = {},
): Promise<StoredArchiveCheck> {
  const started = Date.now();
  const problems: ArchiveProblem[] = [];
  const result = (): StoredArchiveCheck => ({
    ok: problems.length === 0,
    scope: 'stored-bytes',
    proved: written.encrypted ? STORED_CIPHERTEXT_PROVED : STORED_BYTES_PROVED,
    id,
    key,
    sizeBytes: written.sizeBytes,
    sha256: written.sha256,
    encrypted: written.encrypted,
    checkedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    problems,
  });
  let stream: Readable;
  try {
    stream = await storage.get(key);
  } catch (err) {
    if (!isNotFound(err)) throw storageError(err, `cannot read the archive ${key} back from storage`);
    problems.push({ kind: 'ARCHIVE', problem: `archive ${key} is not in storage after it was written` });
    return result();
  }
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      if (opts.signal?.aborted) throw opts.signal.reason instanceof AppError ? opts.signal.reason : new AppError('aborted', 'the backup was interrupted');
      hash.update(c);
      size += c.length;
    }
  } catch (err) {
    stream.destroy();
    throw storageError(err, `reading the archive ${key} back from storage failed at byte ${size}`);
  }
  const sha = hash.digest('hex');
  if (size !== written.sizeBytes) {
    problems.push({ kind: 'ARCHIVE', problem: `archive ${key} has ${size} bytes in storage, ${written.sizeBytes} were written${size < written.sizeBytes ? ' (truncated)' : ''}` });
  }
  if (sha !== written.sha256) {
    problems.push({ kind: 'ARCHIVE', problem: `archive ${key} in storage has SHA-256 ${sha}, what was written has ${written.sha256}` });
  }
  return result();
}

/** A storage failure during the check, as code 'storage' naming the storage's own error ('aborted' passes). */
function storageError(err: unknown, context: string): AppError {
  const e = toAppError(err);
  if (e.code === 'aborted') return e;
  return new AppError('storage', `${context}: ${oneLine(e.message)}`, { cause: err });
}
