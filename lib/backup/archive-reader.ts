import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { isNotFound } from '../storage/storage-backend';
import { MAX_MANIFEST_BYTES, readCappedText } from '../storage/read-capped';
import type { Manifest } from './manifest';
import { archiveKey, encryptedArchiveKey, manifestKey } from './manifest';
import type { ArchiveSource } from './archive-source';
import { decryptingSource } from './encryption/decrypting-source';

export type { ArchiveSource } from './archive-source';

/** A backup stored in a StorageBackend under `<id>.sql.gz` (or `<id>.sql.gz.age`, encrypted) + `<id>.manifest.json`. */
export function storageArchiveSource(storage: StorageBackend, id: string, opts: { manifestText?: string } = {}): ArchiveSource {
  const label = `backup ${id} in ${storage.location}`;
  const ct = encryptedArchiveKey(id);
  const plain = plainStorageSource(storage, id, label);
  // The backup engine reads its archive back before the manifest is stored (a manifest in storage
  // means "verified"): it passes the manifest it is about to write.
  const inner = opts.manifestText === undefined ? plain : { ...plain, manifestText: async () => opts.manifestText! };
  return decryptingSource(inner, {
    size: async () => {
      try {
        return (await storage.stat(ct)).size;
      } catch (err) {
        if (isNotFound(err)) throw new AppError('not_found', `${label}: archive ${ct} is missing`, { cause: err });
        throw err;
      }
    },
    open: () => storage.get(ct),
  });
}

function plainStorageSource(storage: StorageBackend, id: string, label: string): ArchiveSource {
  return {
    label,
    id,
    async manifestText() {
      let stream: Readable;
      try {
        stream = await storage.get(manifestKey(id));
      } catch (err) {
        if (isNotFound(err)) throw new AppError('not_found', `${label}: not found (no manifest ${manifestKey(id)})`, { cause: err });
        throw err;
      }
      return readCappedText(stream, MAX_MANIFEST_BYTES, `${label}: manifest ${manifestKey(id)}`);
    },
    async archiveSize() {
      try {
        return (await storage.stat(archiveKey(id))).size;
      } catch (err) {
        if (isNotFound(err)) throw new AppError('not_found', `${label}: archive ${archiveKey(id)} is missing`, { cause: err });
        throw err;
      }
    },
    openArchive(range) {
      return storage.get(archiveKey(id), range);
    },
  };
}

/** Id of an archive file name `<id>.sql.gz` or `<id>.sql.gz.age` (null when the name does not follow the pattern). */
export function idFromArchivePath(file: string): string | null {
  const base = path.basename(file).replace(/\.age$/, '');
  return base.endsWith('.sql.gz') ? base.slice(0, -'.sql.gz'.length) : null;
}

/** A downloaded archive file (`.sql.gz`, or `.sql.gz.age` when encrypted); its manifest is expected beside it as `<id>.manifest.json`. */
export function fileArchiveSource(file: string): ArchiveSource {
  const abs = path.resolve(file);
  const ct = abs.endsWith('.age') ? abs : `${abs}.age`;
  return decryptingSource(plainFileSource(abs.replace(/\.age$/, '')), {
    size: async () => {
      try {
        return (await stat(ct)).size;
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') throw new AppError('not_found', `archive ${ct}: no such file`, { cause: err });
        throw toAppError(err, `cannot read ${ct}`);
      }
    },
    open: async () => createReadStream(ct, { highWaterMark: 1 << 20 }),
  });
}

function plainFileSource(abs: string): ArchiveSource {
  const id = idFromArchivePath(abs) ?? path.basename(abs);
  const manifestPath = path.join(path.dirname(abs), manifestKey(id));
  const label = `archive ${abs}`;
  return {
    label,
    id,
    async manifestText() {
      try {
        return await readCappedText(createReadStream(manifestPath), MAX_MANIFEST_BYTES, `${label}: manifest ${manifestPath}`);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') {
          throw new AppError('not_found', `${label}: no manifest beside it (expected ${manifestPath})`, { cause: err });
        }
        throw toAppError(err, `cannot read ${manifestPath}`);
      }
    },
    async archiveSize() {
      try {
        return (await stat(abs)).size;
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') throw new AppError('not_found', `${label}: no such file`, { cause: err });
        throw toAppError(err, `cannot read ${abs}`);
      }
    },
    async archiveSha256(signal) {
      const fh = await open(abs).catch((err: unknown) => {
        throw toAppError(err, `cannot read ${abs}`);
      });
      try {
        const h = createHash('sha256');
        const buf = Buffer.allocUnsafeSlow(1 << 20);
        for (;;) {
          if (signal?.aborted) throw new AppError('aborted', 'interrupted while checking the archive');
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) return h.digest('hex');
          h.update(buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
    },
    async openArchive(range) {
      const s = createReadStream(abs, range ? { start: range.start, end: range.end, highWaterMark: 1 << 20 } : { highWaterMark: 1 << 20 });
      await new Promise<void>((resolve, reject) => {
        s.once('open', () => resolve());
        s.once('error', (err) => reject(toAppError(err, `cannot read ${abs}`)));
      });
      return s;
    },
  };
}

/** Pulls exact byte counts out of a stream of Buffers (the archive read sequentially). */
export class ByteReader {
  private it: AsyncIterator<Buffer>;
  private pending: Buffer | null = null;
  /** Bytes handed out so far. */
  position = 0;
  private readonly hash: Hash | null;

  /** `hash: false` for a reader whose digest nobody asks for (a ranged read of one member). */
  constructor(stream: Readable, opts: { hash?: boolean } = {}) {
    this.it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.hash = opts.hash === false ? null : createHash('sha256');
  }

  /** Next piece of at most `max` bytes, or null at the end of the stream. */
  async next(max: number): Promise<Buffer | null> {
    let buf = this.pending;
    this.pending = null;
    if (!buf) {
      const r = await this.it.next();
      if (r.done) return null;
      buf = r.value;
    }
    if (buf.length > max) {
      this.pending = buf.subarray(max);
      buf = buf.subarray(0, max);
    }
    this.position += buf.length;
    this.hash?.update(buf);
    return buf;
  }

  /** Reads the rest of the stream (hashing it); returns how many bytes there were. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const b = await this.next(Number.MAX_SAFE_INTEGER);
      if (!b) return n;
      n += b.length;
    }
  }

  /** SHA-256 (hex) of every byte handed out. Call once, after drain(). */
  digest(): string {
    if (!this.hash) throw new Error('ByteReader: created without a hash');
    return this.hash.digest('hex');
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Compressed bytes handed to gunzip per write. Memory does not depend on it: Node's gunzip stops
 * inflating a write as soon as its output buffer is full and nobody reads (checked: a 1 MB gzip
 * bomb of 1 GB of zeros written whole leaves 256 KiB of output and 278 bytes consumed until read),
 * and `capped` below cuts the output at the member's recorded size. Pieces of 64 KiB cost a
 * restore's main thread ~0.3 s more CPU than 1 MiB on a 148 MB archive (2,300 zlib writes).
 */
const FEED_BYTES = 1024 * 1024;

/**
 * Feeds the next `length` compressed bytes from `reader` into a fresh gunzip (the member alone)
 * while `consume` reads its decompressed output. Resolves with what `consume` returned; a member
 * that ends early, does not decompress, or whose consumer fails rejects (after reading exactly the
 * member's bytes when the archive has them, so the caller can carry on with the next member).
 * `raw.bytes` is what the manifest says the member decompresses to: the output stops there (a gzip
 * bomb of a few hundred KB is never inflated to GBs in memory or sent to a server), and with
 * `raw.exact` a member that decompresses to fewer bytes is refused too (verify reports that itself).
 * `gzHash` is fed the member's compressed bytes as they are read (all `length` of them on success).
 */
export async function readMember<T>(reader: ByteReader, length: number, raw: { bytes: number; exact?: boolean }, consume: (out: Readable) => Promise<T>, gzHash?: Hash): Promise<T> {
  const gz = zlib.createGunzip({ chunkSize: 256 * 1024 });
  let gzError: unknown;
  gz.on('error', (err) => {
    gzError ??= err;
  });
  let produced = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      produced += chunk.length;
      if (produced > raw.bytes) {
        gz.destroy();
        cb(new AppError('corrupt', `decompresses to more than the ${raw.bytes} bytes the manifest records (tampered or a gzip bomb?)`));
      } else cb(null, chunk);
    },
  });
  gz.on('error', (err) => capped.destroy(err));
  gz.pipe(capped);
  const consumed = consume(capped).then(
    (v) => ({ ok: true as const, v }),
    (err: unknown) => {
      // A consumer that gave up stops reading: free the writer below instead of waiting on drain.
      gz.destroy();
      return { ok: false as const, err };
    },
  );
  let remaining = length;
  let truncated = false;
  while (remaining > 0) {
    const piece = await reader.next(Math.min(remaining, FEED_BYTES));
    if (!piece) {
      truncated = true;
      break;
    }
    remaining -= piece.length;
    gzHash?.update(piece);
    if (gz.destroyed || gzError) continue; // keep reading to stay aligned with the next member
    if (!gz.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          gz.off('drain', done);
          gz.off('error', done);
          gz.off('close', done);
          resolve();
        };
        gz.on('drain', done);
        gz.on('error', done);
        gz.on('close', done);
      });
    }
  }
  if (truncated) {
    gz.destroy(new AppError('corrupt', `archive ends ${remaining} bytes before the end of this member (truncated)`));
  } else if (!gz.destroyed) {
    gz.end();
  }
  const r = await consumed;
  if (truncated) throw new AppError('corrupt', `archive ends ${remaining} bytes before the end of this member (truncated)`);
  // A consumer that refused the member (a wrong shape) stopped the gunzip, which then reports an
  // abort: that is no problem of the gzip data, the consumer's reason is the one to give.
  if (!r.ok && (gzError === undefined || (gzError as { name?: string }).name === 'AbortError')) throw r.err;
  if (gzError) throw new AppError('corrupt', `does not decompress: ${oneLine((gzError as Error).message)}`, { cause: gzError });
  if (!r.ok) throw r.err;
  // zlib stops at zero bytes after a gzip stream and ignores the rest; so does gunzip, for the rest
  // of the WHOLE archive (every later member): a member must be its gzip data and nothing more.
  if (gz.bytesWritten !== length) throw new AppError('corrupt', `holds ${length - gz.bytesWritten} bytes after the end of its gzip data (gunzip would stop the whole archive there)`);
  if (raw.exact && produced !== raw.bytes) throw new AppError('corrupt', `decompresses to ${produced} bytes, the manifest records ${raw.bytes}`);
  return r.v;
}

/** Counts '\n' bytes in a buffer. */
export function countNewlines(b: Buffer): number {
  let n = 0;
  let i = b.indexOf(10);
  while (i !== -1) {
    n++;
    i = b.indexOf(10, i + 1);
  }
  return n;
}

/** Reads past `length` bytes (still hashed); throws 'corrupt' when the archive ends first. */
export async function skipBytes(reader: ByteReader, length: number): Promise<void> {
  let left = length;
  while (left > 0) {
    const b = await reader.next(left);
    if (!b) throw new AppError('corrupt', `archive ends ${left} bytes early (truncated)`);
    left -= b.length;
  }
}

/** Checks the archive's size against the manifest (a stat, no read); throws AppError 'corrupt'. */
export async function checkArchiveSize(source: ArchiveSource, m: Manifest): Promise<void> {
  const size = await source.archiveSize();
  if (size !== m.archive.sizeBytes) {
    throw new AppError('corrupt', `${source.label}: archive has ${size} bytes but the manifest says ${m.archive.sizeBytes}${size < m.archive.sizeBytes ? ' (truncated)' : ''}`);
  }
}

/** The whole archive's SHA-256 (hex), hashed as openArchive() streams it. */
async function streamSha256(source: ArchiveSource, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  const stream = await source.openArchive();
  for await (const c of stream as AsyncIterable<Buffer>) {
    if (signal?.aborted) {
      stream.destroy();
      throw new AppError('aborted', 'interrupted while checking the archive');
    }
    h.update(c);
  }
  return h.digest('hex');
}

/**
 * Hashes the whole archive (archiveSha256 where the source has it, else its stream) and checks size and SHA-256 against the manifest — the
 * integrity gate of every restore (see startArchiveCheck in restore/preflight.ts for when it runs).
 * Throws AppError 'corrupt'.
 */
export async function checkArchiveSha(source: ArchiveSource, m: Manifest, signal?: AbortSignal): Promise<void> {
  await checkArchiveSize(source, m);
  const sha = (await source.archiveSha256?.(signal)) ?? (await streamSha256(source, signal));
  if (sha !== m.archive.sha256) {
    throw new AppError('corrupt', `${source.label}: archive SHA-256 does not match the manifest (corrupt or tampered; run verify for the member it hits)`);
  }
}
