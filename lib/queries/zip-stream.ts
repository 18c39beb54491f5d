import { once } from 'node:events';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

/**
 * A streamed ZIP (APPNOTE 6.3; the layout yazl wrote before: UTF-8 names, sizes and CRC in a data
 * descriptor after each entry, ZIP64 records only when a size or offset needs them), made for the
 * all-tables export: entries are read one after the other, never held whole in memory.
 *
 * One DEFLATE stream per entry, on the libuv thread pool, fed the export's 512 KB chunks and
 * giving 256 KB pieces; the CRC-32 is zlib's. Before this, yazl's JavaScript CRC-32 (1.2 s for the
 * 594 MB activity_logs CSV; zlib.crc32 0.26 s) and its chain of 16 KB streams cost the main
 * thread about as much as reading and rewriting the CSV.
 */
export interface ZipEntry {
  name: string;
  /** DEFLATE level 1..9, or 0 for STORE. */
  level: number;
  /** The entry's bytes, read when its turn comes (one Buffer per chunk). */
  open(): AsyncIterable<Buffer>;
}

/** Output piece size of the DEFLATE stream (zlib's default, 16 KB, means 16 round trips to the thread pool per 512 KB of CSV). */
const DEFLATE_CHUNK = 256 * 1024;

const VERSION_MADE_BY = (3 << 8) | 63; // unix, spec 6.3
const VERSION_UTF8 = 20;
const VERSION_ZIP64 = 45;
const FLAGS = (1 << 3) | (1 << 11); // sizes in a data descriptor; UTF-8 names
const MODE = 0o100664;
const MAX32 = 0xffffffff;

interface Written {
  name: Buffer;
  method: number;
  crc: number;
  size: number;
  csize: number;
  offset: number;
  zip64: boolean;
}

function dosDateTime(d: Date): { date: number; time: number } {
  if (d.getFullYear() < 1980) return { date: (1 << 5) | 1, time: 0 };
  const y = Math.min(d.getFullYear(), 2107);
  return { date: ((y - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(), time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1) };
}

function u64(b: Buffer, v: number, at: number): void {
  b.writeUInt32LE(v % 0x100000000, at);
  b.writeUInt32LE(Math.floor(v / 0x100000000), at + 4);
}

/** The ZIP of `entries` as a byte stream. `forceZip64` writes every ZIP64 record (for tests). */
export function zipStream(entries: ZipEntry[], opts: { mtime?: Date; forceZip64?: boolean } = {}): Readable {
  const mtime = opts.mtime ?? new Date();
  const { date, time } = dosDateTime(mtime);
  const unixTime = Math.max(-0x80000000, Math.min(0x7fffffff, Math.floor(mtime.getTime() / 1000)));
  const force = opts.forceZip64 === true;

  async function* gen(): AsyncGenerator<Buffer> {
    const written: Written[] = [];
    let offset = 0;
    for (const entry of entries) {
      const name = Buffer.from(entry.name, 'utf8');
      const method = entry.level === 0 ? 0 : 8;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(VERSION_UTF8, 4);
      local.writeUInt16LE(FLAGS, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(time, 10);
      local.writeUInt16LE(date, 12);
      local.writeUInt16LE(name.length, 26);
      yield Buffer.concat([local, name]);
      const w: Written = { name, method, crc: 0, size: 0, csize: 0, offset, zip64: false };
      offset += 30 + name.length;
      const deflate = method === 0 ? null : zlib.createDeflateRaw({ level: entry.level, chunkSize: DEFLATE_CHUNK });
      const pieces: Buffer[] = [];
      let deflateError: Error | null = null;
      deflate?.on('data', (piece: Buffer) => pieces.push(piece));
      deflate?.on('error', (err) => (deflateError = err));
      try {
        for await (const chunk of entry.open()) {
          w.crc = zlib.crc32(chunk, w.crc);
          w.size += chunk.length;
          if (!deflate) {
            w.csize += chunk.length;
            yield chunk;
            continue;
          }
          if (!deflate.write(chunk)) await once(deflate, 'drain');
          if (deflateError) throw deflateError;
          while (pieces.length) {
            const piece = pieces.shift()!;
            w.csize += piece.length;
            yield piece;
          }
        }
        if (deflate) {
          deflate.end();
          await once(deflate, 'end');
          for (const piece of pieces.splice(0)) {
            w.csize += piece.length;
            yield piece;
          }
        }
      } finally {
        deflate?.destroy();
      }
      offset += w.csize;
      w.zip64 = force || w.size > 0xfffffffe || w.csize > 0xfffffffe || w.offset > 0xfffffffe;
      const dd = Buffer.alloc(w.zip64 ? 24 : 16);
      dd.writeUInt32LE(0x08074b50, 0);
      dd.writeUInt32LE(w.crc, 4);
      if (w.zip64) {
        u64(dd, w.csize, 8);
        u64(dd, w.size, 16);
      } else {
        dd.writeUInt32LE(w.csize, 8);
        dd.writeUInt32LE(w.size, 12);
      }
      yield dd;
      offset += dd.length;
      written.push(w);
    }
    const cdStart = offset;
    for (const w of written) {
      const ut = Buffer.alloc(9);
      ut.writeUInt16LE(0x5455, 0); // Info-ZIP extended timestamp: mtime in UTC
      ut.writeUInt16LE(5, 2);
      ut.writeUInt8(3, 4);
      ut.writeInt32LE(unixTime, 5);
      let z64 = Buffer.alloc(0);
      if (w.zip64) {
        z64 = Buffer.alloc(28);
        z64.writeUInt16LE(0x0001, 0);
        z64.writeUInt16LE(24, 2);
        u64(z64, w.size, 4);
        u64(z64, w.csize, 12);
        u64(z64, w.offset, 20);
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(VERSION_MADE_BY, 4);
      h.writeUInt16LE(w.zip64 ? VERSION_ZIP64 : VERSION_UTF8, 6);
      h.writeUInt16LE(FLAGS, 8);
      h.writeUInt16LE(w.method, 10);
      h.writeUInt16LE(time, 12);
      h.writeUInt16LE(date, 14);
      h.writeUInt32LE(w.crc, 16);
      h.writeUInt32LE(w.zip64 ? MAX32 : w.csize, 20);
      h.writeUInt32LE(w.zip64 ? MAX32 : w.size, 24);
      h.writeUInt16LE(w.name.length, 28);
      h.writeUInt16LE(ut.length + z64.length, 30);
      h.writeUInt32LE((MODE << 16) >>> 0, 38);
      h.writeUInt32LE(w.zip64 ? MAX32 : w.offset, 42);
      const rec = Buffer.concat([h, w.name, ut, z64]);
      offset += rec.length;
      yield rec;
    }
    const cdSize = offset - cdStart;
    const zip64 = force || written.length >= 0xffff || cdSize >= MAX32 || cdStart >= MAX32;
    if (zip64) {
      const r = Buffer.alloc(56 + 20);
      r.writeUInt32LE(0x06064b50, 0);
      u64(r, 56 - 12, 4);
      r.writeUInt16LE(VERSION_MADE_BY, 12);
      r.writeUInt16LE(VERSION_ZIP64, 14);
      u64(r, written.length, 24);
      u64(r, written.length, 32);
      u64(r, cdSize, 40);
      u64(r, cdStart, 48);
      r.writeUInt32LE(0x07064b50, 56); // locator
      u64(r, offset, 64);
      r.writeUInt32LE(1, 72);
      yield r;
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(zip64 ? 0xffff : written.length, 8);
    end.writeUInt16LE(zip64 ? 0xffff : written.length, 10);
    end.writeUInt32LE(zip64 ? MAX32 : cdSize, 12);
    end.writeUInt32LE(zip64 ? MAX32 : cdStart, 16);
    yield end;
  }
  return Readable.from(gen(), { objectMode: false });
}
