import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { AppError, oneLine } from '../errors';
import type { ArchiveSource } from './archive-source';

/**
 * One pass over an archive whose byte ranges are expensive, for readers that need many ranges at
 * once (`restore --jobs N`). An encrypted backup is the case: age has no random access, so every
 * ranged read decrypts the file from its start, and a parallel restore reading each member by its
 * own range did that once per member: quadratic in the archive's size.
 *
 * `wrap` returns a source whose FIRST whole read (preflight's SHA-256 check) is also written to a
 * private spool file, and whose ranged reads are then served from that file: the stored (and
 * encrypted) archive is read and decrypted exactly once. The trade-off: the spool needs free disk
 * space of the archive's (compressed) size in BACKUP_SPOOL_DIR (default: the temp dir), and the
 * archive is written and read once more locally. The spool never holds plaintext: it is encrypted
 * with AES-256-CTR under a random key that only this process holds (CTR: any byte range decrypts
 * on its own), in a 0700 directory, as a 0600 file, removed by `dispose` (a process killed before
 * that leaves a file nobody can read; the next spool removes it). Its content needs no MAC: every
 * member read from it is checked against the manifest's SHA-256 before it is used.
 */
export class ArchiveSpool {
  private readonly key = randomBytes(32);
  /** Low 8 bytes of the CTR counter block are the block number (a 64-bit counter never wraps here). */
  private readonly nonce = randomBytes(8);
  private dir: string | undefined;
  private file: string | undefined;
  /** Bytes in the spool once a whole read completed; undefined while none did. */
  private complete: number | undefined;
  /** The whole read being spooled, if any (it never rejects). */
  private filling: Promise<void> | undefined;
  private disposed = false;

  /** `source` itself when its ranges are cheap; else a source spooled on its first whole read. */
  async wrap(source: ArchiveSource): Promise<ArchiveSource> {
    // (A manifest that cannot be read is preflight's to report.)
    if (!(await source.rangesReadFromStart?.().catch(() => false))) return source;
    return {
      ...source,
      openArchive: (range) => (range ? this.openRange(source, range) : this.openWhole(source)),
    };
  }

  /** Removes the spool (idempotent; also after a failure). */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.dir) await rm(/* turbopackIgnore: true */ this.dir, { recursive: true, force: true }).catch(() => {});
    this.dir = undefined;
  }

  private iv(block: number): Buffer {
    const iv = Buffer.alloc(16);
    this.nonce.copy(iv, 0);
    iv.writeBigUInt64BE(BigInt(block), 8);
    return iv;
  }

  private async newFile(): Promise<FileHandle> {
    if (this.disposed) throw new AppError('internal', 'archive spool used after dispose');
    const parent = process.env.BACKUP_SPOOL_DIR || os.tmpdir();
    await removeDeadSpools(parent);
    this.dir ??= await mkdtemp(path.join(/* turbopackIgnore: true */ parent, `tickethub-restore-spool-${process.pid}-`));
    this.file = path.join(/* turbopackIgnore: true */ this.dir, 'archive.spool');
    return open(this.file, 'w', 0o600);
  }

  /**
   * The whole archive from `source`, passing through; written (encrypted) to the spool on the way
   * unless a complete spool exists, in which case it is read from there.
   */
  private async openWhole(source: ArchiveSource): Promise<Readable> {
    // One fill at a time: a second reader waits for it (decided before any await, so two readers
    // arriving together cannot both start one).
    while (this.filling) await this.filling;
    if (this.complete !== undefined) return this.readSpool(0, this.complete - 1);
    let resolve!: () => void;
    const filling = new Promise<void>((r) => (resolve = r));
    this.filling = filling;
    const done = () => {
      if (this.filling === filling) this.filling = undefined;
      resolve();
    };
    let upstream: Readable | undefined;
    let fh: FileHandle;
    try {
      upstream = await source.openArchive();
      fh = await this.newFile();
    } catch (err) {
      upstream?.destroy();
      done();
      throw err;
    }
    const cipher = createCipheriv('aes-256-ctr', this.key, this.iv(0));
    let written = 0;
    let writeError: unknown;
    const tee = new Transform({
      transform: (c: Buffer, _e, cb) => {
        const enc = cipher.update(c);
        fh.write(enc, 0, enc.length, written).then(
          () => cb(null, c),
          (err: unknown) => {
            writeError = err;
            cb(new AppError('storage', `cannot write the restore spool in ${path.dirname(this.dir!)}: ${oneLine((err as Error).message)}`));
          },
        );
        written += enc.length;
      },
      flush: (cb) => {
        fh.close().then(
          () => {
            if (!writeError && !this.disposed) this.complete = written;
            done();
            cb();
          },
          (err: unknown) => {
            done();
            cb(err as Error);
          },
        );
      },
    });
    const fail = (err?: Error) => {
      void fh.close().catch(() => {});
      done();
      if (err) tee.destroy(err);
    };
    upstream.on('error', (err) => fail(err));
    tee.on('close', () => {
      if (!tee.writableFinished) {
        // The reader stopped early (or failed): no complete spool; upstream is not needed further.
        upstream.destroy();
        fail();
      }
    });
    return upstream.pipe(tee);
  }

  /** Bytes start..end (inclusive): from the spool once it is complete, else after filling it. */
  private async openRange(source: ArchiveSource, range: { start: number; end: number }): Promise<Readable> {
    if (this.complete === undefined) {
      // Nothing read the archive whole yet: do it now (once), then serve ranges from the spool.
      while (this.filling) await this.filling;
      if (this.complete === undefined) {
        const whole = await this.openWhole(source);
        whole.resume();
        await finished(whole);
      }
      if (this.complete === undefined) throw new AppError('internal', 'archive spool incomplete');
    }
    return this.readSpool(range.start, Math.min(range.end, this.complete - 1));
  }

  private readSpool(start: number, end: number): Readable {
    const aligned = start - (start % 16);
    const skip = start - aligned;
    const decipher = createDecipheriv('aes-256-ctr', this.key, this.iv(aligned / 16));
    const out = new PassThrough();
    if (end < start) {
      out.end();
      return out;
    }
    const file = createReadStream(/* turbopackIgnore: true */ this.file!, { start: aligned, end, highWaterMark: 1 << 20 });
    let dropped = 0;
    file.on('error', (err) => out.destroy(err));
    file.on('data', (c) => {
      let plain = decipher.update(c as Buffer);
      if (dropped < skip) {
        const n = Math.min(skip - dropped, plain.length);
        plain = plain.subarray(n);
        dropped += n;
      }
      if (plain.length && !out.write(plain)) {
        file.pause();
        out.once('drain', () => file.resume());
      }
    });
    file.on('end', () => out.end());
    out.on('close', () => file.destroy());
    return out;
  }
}

/** Removes spool directories of restore processes that no longer run (killed before their dispose). */
async function removeDeadSpools(parent: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(/* turbopackIgnore: true */ parent);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^tickethub-restore-spool-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    await rm(/* turbopackIgnore: true */ path.join(parent, name), { recursive: true, force: true }).catch(() => {});
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
