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
 */
export class ChunkSpool extends Writable {
  private buffers: Buffer[] = [];
  private memBytes = 0;
  private file: FileHandle | undefined;
  private filePath: string | undefined;
  private fileBytes = 0;
  private disposed = false;
  /** Compressed bytes written so far. */
  size = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly memoryLimit: number,
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
      const pending = this.buffers;
      this.buffers = [];
      this.memBytes = 0;
      for (const b of pending) await this.writeAll(b);
    }
    await this.writeAll(chunk);
  }

  private async writeAll(b: Buffer): Promise<void> {
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
      for await (const b of createReadStream(this.filePath, { highWaterMark: 256 * 1024 })) yield b as Buffer;
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
