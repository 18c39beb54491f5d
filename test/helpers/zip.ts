import yauzl from 'yauzl';
import type { Entry } from 'yauzl';

/** Every entry of a ZIP file (name → bytes, in archive order), read with a real ZIP reader (CRCs checked). */
export async function readZip(bytes: Uint8Array): Promise<Map<string, Buffer>> {
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
  const out = new Map<string, Buffer>();
  for (const entry of entries) {
    const stream = await zip.openReadStreamPromise(entry);
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(c as Buffer);
    out.set(entry.fileName, Buffer.concat(parts));
  }
  zip.close();
  return out;
}
