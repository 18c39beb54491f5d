import type { Readable } from 'node:stream';
import { AppError, oneLine } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { isNotFound } from '../storage/storage-backend';

/**
 * The post-backup read-back check, told apart from storage failing under it. `check` reads the
 * stored backup through the storage it is given; when any read of that storage fails (a request
 * refused, a download cut off) the check proves nothing about the archive, so the run fails with
 * AppError 'storage' "storage failed during the read-back check: <cause>" and never with "the
 * stored backup did not verify" (which is for archives that really do not match). A missing object
 * is not a storage failure: it is what the check reports. Returns the check's result otherwise.
 */
export async function readBackCheck<R extends { ok: boolean }>(storage: StorageBackend, check: (storage: StorageBackend) => Promise<R>): Promise<R> {
  let fault: unknown;
  const record = (err: unknown) => {
    if (fault === undefined && !isNotFound(err)) fault = err;
  };
  const watched: StorageBackend = {
    location: storage.location,
    put: (key, body) => storage.put(key, body),
    list: (prefix) => storage.list(prefix),
    delete: (key) => storage.delete(key),
    close: () => storage.close(),
    async get(key, range) {
      let s: Readable;
      try {
        s = await storage.get(key, range);
      } catch (err) {
        record(err);
        throw err;
      }
      s.once('error', record);
      return s;
    },
    async stat(key) {
      try {
        return await storage.stat(key);
      } catch (err) {
        record(err);
        throw err;
      }
    },
  };
  const failed = () => {
    const msg = oneLine((fault as Error | undefined)?.message ?? String(fault));
    return new AppError('storage', `storage failed during the read-back check: ${fault instanceof AppError ? msg : `${storage.location}: ${msg}`}`, { cause: fault });
  };
  let result: R;
  try {
    result = await check(watched);
  } catch (err) {
    if (fault === undefined && (err as AppError | undefined)?.code === 'storage') record(err);
    if (fault !== undefined) throw failed();
    throw err;
  }
  if (!result.ok && fault !== undefined) throw failed();
  return result;
}
