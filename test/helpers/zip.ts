import yauzl from 'yauzl';
import type { Entry } from 'yauzl';

export interface ZipEntryRead {
  name: string;
  data: Buffer;
  /** What the central directory records. */
  crc32: number;
  compressionMethod: number;
  versionNeededToExtract: number;
}

/** Every entry of a ZIP file, in archive order, read with a real ZIP reader (sizes checked; yauzl does not check CRCs: compare `crc32` yourself). */
export async function readZipEntries(bytes: Uint8Array): Promise<ZipEntryRead[]> {
  const zip = await yauzl.fromBufferPromise(Buffer.from(bytes), { lazyEntries: true, validateEntrySizes: true });
  const entries: Entry[] = await new Promise((resolve, reject) => {
    const list: Entry[] = [];
    zip.on('entry', (e: Entry) => {
      list.push(e);
      zip.readEntry();
    });
    zip.on('end', () => resolve(list));
    zip.on('error', reject);
    zip.readEntry();
  });
  const out: ZipEntryRead[] = [];
  for (const entry of entries) {
    const stream = await zip.openReadStreamPromise(entry);
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(c as Buffer);
    out.push({ name: entry.fileName, data: Buffer.concat(parts), crc32: entry.crc32, compressionMethod: entry.compressionMethod, versionNeededToExtract: entry.versionNeededToExtract });
  }
  zip.close();
  return out;
}

/** Every entry of a ZIP file (name → bytes, in archive order). */
export async function readZip(bytes: Uint8Array): Promise<Map<string, Buffer>> {
  return new Map((await readZipEntries(bytes)).map((e) => [e.name, e.data]));
}
