import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { EntrySection, ManifestEntry } from './manifest';

const gzipAsync = promisify(zlib.gzip);

/** Members up to this size are compressed synchronously with a window sized to them (below). */
export const SMALL_MEMBER_BYTES = 64 * 1024;

/**
 * One gzip member of a small buffer. zlib's default context (32 KiB window, 128 KiB+ hash) costs
 * more to set up than compressing a 300-byte CREATE TABLE: with 40,000 DDL members (a 5,000-table
 * catalog) that setup dominated the backup. A window just big enough for the input compresses
 * identically, and the result is a standard gzip member any gunzip reads.
 */
export function gzipSmall(raw: Buffer, level: number): Buffer {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(raw.length + 262))));
  // Copied out: zlib hands back a slice of its 16 KiB output buffer, which would keep all of it alive.
  return Buffer.from(zlib.gzipSync(raw, { level, windowBits, memLevel: Math.max(1, Math.min(8, windowBits - 7)) }));
}

/** What a member is, before it has a place in the archive. */
export interface MemberInfo {
  section: EntrySection;
  kind: string;
  schema: string | null;
  name: string;
  table?: string;
  rows?: number;
  chunk?: number;
  copy?: string;
}

/**
 * A table-data member at least this big (compressed) records its compressed bytes' SHA-256: below,
 * hashing its decompressed bytes costs the restore next to nothing, and 5,000 small tables' manifest
 * stays small.
 */
const GZ_SHA_MIN_BYTES = 64 * 1024;

/**
 * Appends gzip members, in order, to ONE archive stream (`output`, handed to `storage.put`),
 * tracking each member's byte range and the archive's SHA-256 over the compressed bytes exactly as
 * written. Single writer by construction: callers await each append before the next, so the
 * manifest's offsets are the real ones.
 */
export class ArchiveWriter {
  /** The archive bytes; give this to storage.put. */
  readonly output = new PassThrough({ highWaterMark: 256 * 1024 });
  readonly entries: ManifestEntry[] = [];
  private readonly hash = createHash('sha256');
  private offset = 0;
  rawBytes = 0;
  private failed: Error | undefined;

  constructor(private readonly gzipLevel: number) {
    this.output.on('error', (err) => {
      this.failed ??= err;
    });
    // When the consumer (storage) gives up it destroys its input: surface that as our failure too.
    this.output.on('close', () => {
      if (!this.output.writableFinished) this.failed ??= new Error('the storage upload stopped reading the archive');
    });
  }

  /** Bytes written so far (compressed). */
  get size(): number {
    return this.offset;
  }

  private async write(buf: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.hash.update(buf);
    this.offset += buf.length;
    if (!this.output.write(buf)) {
      // Wait for the consumer, or for it to give up (close without drain): one pair of listeners,
      // removed either way, so long archives do not pile listeners up.
      await new Promise<void>((resolve) => {
        const done = () => {
          this.output.off('drain', done);
          this.output.off('close', done);
          resolve();
        };
        this.output.on('drain', done);
        this.output.on('close', done);
      });
      if (this.failed) throw this.failed;
    }
  }

  /** Compresses a small text member (header, DDL, setval) and appends it. */
  async appendText(info: MemberInfo, text: string): Promise<ManifestEntry> {
    const raw = Buffer.from(text, 'utf8');
    const gz = raw.length <= SMALL_MEMBER_BYTES ? gzipSmall(raw, this.gzipLevel) : await gzipAsync(raw, { level: this.gzipLevel });
    return this.appendMember(info, [gz], { rawLength: raw.length, sha256: createHash('sha256').update(raw).digest('hex') });
  }

  /**
   * Packs several small SQL objects into ONE gzip member (format v3): one entry per object, sharing
   * the member's byte range, each with its own `part` (where its text starts in the member), raw
   * length and SHA-256. A single object is written as an ordinary member.
   */
  async appendTextGroup(items: { info: MemberInfo; text: string }[]): Promise<ManifestEntry[]> {
    if (items.length === 1) return [await this.appendText(items[0].info, items[0].text)];
    const raws = items.map((it) => Buffer.from(it.text, 'utf8'));
    const all = Buffer.concat(raws);
    const gz = all.length <= SMALL_MEMBER_BYTES ? gzipSmall(all, this.gzipLevel) : await gzipAsync(all, { level: this.gzipLevel });
    const start = this.offset;
    await this.write(gz);
    let part = 0;
    return items.map((it, i) => {
      const raw = raws[i];
      const entry: ManifestEntry = {
        index: this.entries.length,
        section: it.info.section,
        kind: it.info.kind,
        schema: it.info.schema,
        name: it.info.name,
        ...(it.info.table !== undefined ? { table: it.info.table } : {}),
        offset: start,
        length: gz.length,
        rawLength: raw.length,
        sha256: createHash('sha256').update(raw).digest('hex'),
        part,
      };
      part += raw.length;
      this.rawBytes += raw.length;
      this.entries.push(entry);
      return entry;
    });
  }

  /** Appends an already-compressed member (one complete gzip stream) given as chunks. */
  async appendMember(
    info: MemberInfo,
    compressed: AsyncIterable<Buffer> | Iterable<Buffer>,
    raw: { rawLength: number; sha256: string },
  ): Promise<ManifestEntry> {
    const start = this.offset;
    // A table-data member's compressed bytes get their own SHA-256 (ManifestEntry.gzSha256): the
    // restore checks that instead of hashing the ~4x more decompressed bytes.
    const gzHash = info.section === 'table-data' ? createHash('sha256') : null;
    for await (const b of compressed) {
      gzHash?.update(b);
      await this.write(b);
    }
    const entry: ManifestEntry = {
      index: this.entries.length,
      section: info.section,
      kind: info.kind,
      schema: info.schema,
      name: info.name,
      ...(info.table !== undefined ? { table: info.table } : {}),
      offset: start,
      length: this.offset - start,
      rawLength: raw.rawLength,
      sha256: raw.sha256,
      ...(gzHash && this.offset - start >= GZ_SHA_MIN_BYTES ? { gzSha256: gzHash.digest('hex') } : {}),
      ...(info.rows !== undefined ? { rows: info.rows } : {}),
      ...(info.chunk !== undefined ? { chunk: info.chunk } : {}),
      ...(info.copy !== undefined ? { copy: info.copy } : {}),
    };
    this.rawBytes += raw.rawLength;
    this.entries.push(entry);
    return entry;
  }

  /** Ends the archive stream; returns its size and SHA-256. */
  async finish(): Promise<{ sizeBytes: number; sha256: string }> {
    if (this.failed) throw this.failed;
    this.output.end();
    return { sizeBytes: this.offset, sha256: this.hash.digest('hex') };
  }

  /** Aborts the archive: storage.put sees the error and must leave nothing behind. */
  abort(err: Error): void {
    this.failed ??= err;
    if (!this.output.destroyed) this.output.destroy(err);
  }
}
