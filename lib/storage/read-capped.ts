import { AppError } from '../errors';

/**
 * The most of a manifest any reader takes into memory. Nothing read from storage is trusted: a
 * manifest.json of gigabytes (a broken or hostile writer; on S3, any size) was read whole by list,
 * verify, restore, prune, reindex and the dashboard. A manifest grows ~2.6 KB per table (the
 * 5,000-table bench catalog's is 12.76 MB), so 256 MiB is ~100,000 tables.
 */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

/** The most of a small JSON record (a failure marker, the alert state) a reader takes. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** The one line for a stored object over its cap. */
export function tooLarge(what: string, max: number): string {
  return `${what} is larger than ${max.toLocaleString('en-US')} bytes, more than any backup writes: refusing to read it`;
}

/**
 * The whole of `stream` as UTF-8 text, or an AppError 'corrupt' naming `what` as soon as it is
 * longer than `max` bytes (the rest is never read: the stream is destroyed).
 */
export async function readCappedText(stream: AsyncIterable<Buffer> & { destroy?: (err?: Error) => void }, max: number, what: string): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > max) {
      stream.destroy?.();
      throw new AppError('corrupt', tooLarge(what, max));
    }
    parts.push(c);
  }
  return Buffer.concat(parts, n).toString('utf8');
}
