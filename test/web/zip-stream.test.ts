import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { zipStream } from '../../lib/queries/zip-stream';
import type { ZipEntry } from '../../lib/queries/zip-stream';
import { readZipEntries } from '../helpers/zip';

async function zipOf(entries: ZipEntry[], forceZip64 = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of zipStream(entries, { forceZip64 })) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** An entry that yields `data` in chunks of `size` bytes. */
function entry(name: string, data: Buffer, level: number, size = 512 * 1024): ZipEntry {
  return {
    name,
    level,
    async *open() {
      for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
    },
  };
}

// CSV-like text (compressible) with Amharic, and random bytes (not): several chunks each.
const TEXT = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `${i},ሰላም "ቤቲ",=x,2025-03-01T08:00:00+03:00\n`).join(''));
const RANDOM = randomBytes(1_300_000);

describe('zipStream (the all-tables export ZIP)', () => {
  for (const forceZip64 of [false, true]) {
    it(`entries read back byte for byte with the CRC-32 and sizes it records${forceZip64 ? ' (ZIP64 records)' : ''}: DEFLATE from chunks compressed apart, STORE, empty, UTF-8 names`, async () => {
      const zip = await zipOf(
        [entry('activity_logs.csv', TEXT, 1), entry('ሰላም.bin', RANDOM, 1, 100_000), entry('stored.csv', TEXT, 0), entry('empty.csv', Buffer.alloc(0), 1), entry('tiny.json', Buffer.from('{}\n'), 6)],
        forceZip64,
      );
      const got = await readZipEntries(zip);
      expect(got.map((e) => e.name)).toEqual(['activity_logs.csv', 'ሰላም.bin', 'stored.csv', 'empty.csv', 'tiny.json']);
      const want = [TEXT, RANDOM, TEXT, Buffer.alloc(0), Buffer.from('{}\n')];
      got.forEach((e, i) => {
        expect(e.data.equals(want[i]), e.name).toBe(true);
        expect(e.crc32, e.name).toBe(zlib.crc32(want[i]));
        expect(e.versionNeededToExtract === 45, e.name).toBe(forceZip64);
      });
      expect(got.map((e) => e.compressionMethod)).toEqual([8, 8, 0, 8, 8]);
      // DEFLATE level 1 still compresses the text (chunks compressed apart cost a little, not the ratio).
      expect(zip.length).toBeLessThan(RANDOM.length + TEXT.length + TEXT.length / 3);
    });
  }

  it('an entry whose source fails fails the ZIP stream with that error', async () => {
    const failing: ZipEntry = {
      name: 'x.csv',
      level: 1,
      async *open() {
        yield Buffer.from('a\n');
        throw new Error('COPY failed');
      },
    };
    await expect(zipOf([entry('ok.csv', TEXT, 1), failing])).rejects.toThrow(/COPY failed/);
  });
});
