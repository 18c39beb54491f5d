import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';

/**
 * Where a worker parks one finished, compressed gzip member until the single archive writer is
 * ready for it. Workers run ahead of the writer (the archive must stay in order), so finished
 * members wait here: the first `memoryLimit` bytes in memory, anything bigger in a temp file, so
 * RSS stays flat whatever the chunk size. Single use: write everything, then `read()` once, then
 * `dispose()` (which also runs on failure paths and is idempotent).
 *
 * With `encrypted` (an encrypted backup, BACKUP_ENCRYPTION_RECIPIENTS) the temp file is encrypted
 * (AES-256-CTR) with a random key that only this object holds: the members are customer rows, and
 * an encrypted backup must not put them on a disk in the clear, not even for the length of a run —
 * nor leave them there when the process is killed before its cleanup (the next backup removes the
 * file; until then nobody can read it). No MAC needed: the member checksums were taken before the
 * spool. (Unencrypted backups store the same bytes in the clear anyway: their spool is not
 * encrypted, which would cost CPU for nothing.)
 */
export class ChunkSpool extends Writable {
  private buffers: Buffer[] = [];
  private memBytes = 0;
  private file: FileHandle | undefined;
  private filePath: string | undefined;
  private fileBytes = 0;
  /** Key and IV of the encrypted file (made when it is created). */
  private secret: { key: Buffer; iv: Buffer } | undefined;
  private cipher: ReturnType<typeof createCipheriv> | undefined;
  private disposed = false;
  /** Compressed bytes written so far. */
  size = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly memoryLimit: number,
    private readonly encrypted = false,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.size += chunk.length;
    if (!this.file && this.memBytes + chunk.length <= this.memoryLimit) {
      this.buffers.push(chunk);
      this.memBytes += chunk.length;
      cb();
      return;
    }
    this.spill(chunk).then(() => cb(), cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const all = Buffer.concat(chunks.map((c) => c.chunk));
    this._write(all, 'binary', cb);
  }

  private async spill(chunk: Buffer): Promise<void> {
    if (this.disposed) throw new Error('spool disposed');
    if (!this.file) {
      this.filePath = path.join(this.dir, this.name);
      // 0600 inside the 0700 mkdtemp directory: spooled rows are customer data.
      this.file = await open(this.filePath, 'w', 0o600);
      if (this.encrypted) {
        this.secret = { key: randomBytes(32), iv: randomBytes(16) };
        this.cipher = createCipheriv('aes-256-ctr', this.secret.key, this.secret.iv);
      }
      const pending = this.buffers;
      this.buffers = [];
      this.memBytes = 0;
      for (const b of pending) await this.writeAll(b);
    }
    await this.writeAll(chunk);
  }

  private async writeAll(plain: Buffer): Promise<void> {
    // Every byte goes through the one CTR stream in file order (writes are sequential).
    const b = this.cipher ? this.cipher.update(plain) : plain;
    let off = 0;
    while (off < b.length) {
      const { bytesWritten } = await this.file!.write(b, off, b.length - off, this.fileBytes);
      off += bytesWritten;
      this.fileBytes += bytesWritten;
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.file) return cb();
    this.file.close().then(() => {
      this.file = undefined;
      cb();
    }, cb);
  }

  /** The spooled bytes, in order (call after 'finish'). */
  async *read(): AsyncGenerator<Buffer> {
    if (this.filePath) {
      const decipher = this.secret ? createDecipheriv('aes-256-ctr', this.secret.key, this.secret.iv) : undefined;
      for await (const b of createReadStream(this.filePath, { highWaterMark: 256 * 1024 })) yield decipher ? decipher.update(b as Buffer) : (b as Buffer);
    } else {
      const bufs = this.buffers;
      this.buffers = [];
      this.memBytes = 0;
      for (const b of bufs) yield b;
    }
  }

  /** Frees memory and removes the temp file. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.buffers = [];
    this.memBytes = 0;
    const f = this.file;
    this.file = undefined;
    await f?.close().catch(() => {});
    if (this.filePath) await rm(this.filePath, { force: true }).catch(() => {});
  }
}
