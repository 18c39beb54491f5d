import { AppError, oneLine } from '../errors';

/** The one 'not_found' error of the storage adapters (see `isNotFound`). */
export function notFound(key: string, location: string): AppError {
  return new AppError('not_found', `object '${key}' not found in ${location}`);
}

/**
 * put()'s source stream failed, not the storage: an AppError from the caller (e.g. a database
 * error while producing the archive) passes through unchanged so the real cause is reported.
 */
export function sourceFailed(err: unknown, key: string, location: string): AppError {
  if (err instanceof AppError) return err;
  const msg = oneLine((err as Error | undefined)?.message ?? String(err));
  return new AppError('storage', `writing '${key}' to ${location} failed: source stream error: ${msg}`, { cause: err });
}
