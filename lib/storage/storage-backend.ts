import type { Readable } from 'node:stream';

/** Metadata of one stored object. */
export interface StoredObject {
  /** Key relative to the backend root, '/'-separated, e.g. '20261125T020000Z-ab12cd.sql.gz'. */
  key: string;
  size: number;
  /** Last modification time. */
  modifiedAt: Date;
}

/**
 * Where backups live. Keys are flat, '/'-separated relative names; adapters map them to files or
 * S3 objects under their root. Every method rejects with an AppError: code 'not_found' when the
 * object does not exist (see `isNotFound`), code 'storage' for any other failure, with a one-line
 * message naming the location and cause.
 */
export interface StorageBackend {
  /** Human-readable location of the root, e.g. 'file:///var/backups' or 's3://bucket/prefix'. */
  readonly location: string;
  /**
   * Stores the stream's bytes under `key`, replacing any existing object. Atomic: until the
   * returned promise resolves, no reader (get/stat/list) sees the object or any part of it; if the
   * stream errors or the write fails, nothing is left under `key` (nor any temp visible to list).
   * Resolves with the number of bytes written.
   */
  put(key: string, body: Readable): Promise<{ size: number }>;
  /**
   * A readable stream of the object's bytes, or of the inclusive byte range [start, end] when
   * given. Rejects (before any byte) with 'not_found' when the object does not exist.
   */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** The object's metadata; rejects with 'not_found' when it does not exist. */
  stat(key: string): Promise<StoredObject>;
  /** Every object whose key starts with `prefix` (default: all), sorted by key. */
  list(prefix?: string): Promise<StoredObject[]>;
  /** Deletes the object; deleting a missing object succeeds (idempotent). */
  delete(key: string): Promise<void>;
  /**
   * Writes that never finished (a process killed mid-put, a storage outage): local temp files,
   * S3 incomplete multipart uploads. `key` is the object the write was for; `ref` identifies the
   * leftover for removeIncomplete. Optional: adapters without such leftovers omit it.
   */
  listIncomplete?(): Promise<{ key: string; ref: string }[]>;
  /** Removes one leftover of listIncomplete (deletes the temp file, aborts the multipart upload). */
  removeIncomplete?(ref: string): Promise<void>;
  /** Releases clients/handles (S3 sockets). Safe to call more than once. */
  close(): Promise<void>;
}

/** True when `err` says the object does not exist. */
export function isNotFound(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'not_found';
}
