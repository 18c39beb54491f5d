import { oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { archiveKey, encryptedArchiveKey, manifestKey } from './manifest';

/**
 * Deletes a backup's files from storage: the manifest first (without it the backup is no longer
 * listed as restorable, so a half-done removal is "incomplete", never a good backup), then the
 * archive in both its forms (`<id>.sql.gz`, or `<id>.sql.gz.age` when encrypted). Deleting a key
 * that does not exist is not an error; any other storage failure throws (the caller retries or
 * reports it). The one place that knows every file a backup has: retention and the dashboard's
 * DELETE both use it.
 */
export async function removeBackupFiles(storage: StorageBackend, id: string): Promise<void> {
  await storage.delete(manifestKey(id));
  try {
    await storage.delete(archiveKey(id));
    await storage.delete(encryptedArchiveKey(id));
  } catch (err) {
    throw new ArchiveLeftBehind(id, err);
  }
}

/**
 * The manifest is gone (the backup no longer exists as a backup) but an archive could not be
 * removed: record the run deleted anyway; removeLeftovers removes the archive on a later run.
 */
export class ArchiveLeftBehind extends Error {
  constructor(
    readonly id: string,
    cause: unknown,
  ) {
    super(`the manifest of ${id} was removed but its archive could not be removed (the next backup or prune retries): ${oneLine(toAppError(cause).message)}`, { cause });
    this.name = 'ArchiveLeftBehind';
  }
}
