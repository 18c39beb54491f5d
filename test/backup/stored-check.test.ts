import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkStoredArchive, STORED_BYTES_PROVED, STORED_CIPHERTEXT_PROVED } from '../../lib/backup/stored-check';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// The backup engine's check after writing: the stored object, read back, has the size and SHA-256
// of what was written. It hashes the stored bytes and never decompresses them (that is `verify`).

let dir: string;
let storage: StorageBackend;
const bytes = randomBytes(3 * 1024 * 1024 + 17); // not gzip at all
const written = { sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), encrypted: false };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'stored-check-'));
  storage = openStorage(dir);
  await storage.put('x.sql.gz', Readable.from([bytes]));
});
afterAll(async () => {
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('checkStoredArchive', () => {
  it('proves the stored bytes equal what was written without decompressing them (bytes that are not gzip pass)', async () => {
    expect(() => gunzipSync(bytes)).toThrow(); // a decompressing check could not pass this object
    const c = await checkStoredArchive(storage, 'x', 'x.sql.gz', written);
    expect(c).toMatchObject({ ok: true, scope: 'stored-bytes', proved: STORED_BYTES_PROVED, key: 'x.sql.gz', sizeBytes: bytes.length, sha256: written.sha256, problems: [] });
    expect(STORED_BYTES_PROVED).toBe('stored bytes identical to what was written (SHA-256 of the archive)');
    const enc = await checkStoredArchive(storage, 'x', 'x.sql.gz', { ...written, encrypted: true });
    expect(enc.proved).toBe(STORED_CIPHERTEXT_PROVED);
  });

  it('other bytes, fewer bytes, or no object at all: a problem naming the key and what differs', async () => {
    const other = await checkStoredArchive(storage, 'x', 'x.sql.gz', { ...written, sha256: '0'.repeat(64) });
    expect(other.ok).toBe(false);
    expect(other.problems).toEqual([{ kind: 'ARCHIVE', problem: `archive x.sql.gz in storage has SHA-256 ${written.sha256}, what was written has ${'0'.repeat(64)}` }]);
    const short = await checkStoredArchive(storage, 'x', 'x.sql.gz', { ...written, sizeBytes: bytes.length + 5 });
    expect(short.problems[0].problem).toBe(`archive x.sql.gz has ${bytes.length} bytes in storage, ${bytes.length + 5} were written (truncated)`);
    const missing = await checkStoredArchive(storage, 'y', 'y.sql.gz', written);
    expect(missing.problems).toEqual([{ kind: 'ARCHIVE', problem: 'archive y.sql.gz is not in storage after it was written' }]);
  });

  it('a storage failure while reading back is thrown as a storage error naming its cause, not reported as a mismatch', async () => {
    const failing: StorageBackend = {
      ...storage,
      location: storage.location,
      get: async (k, r) => {
        const s = await storage.get(k, r);
        let n = 0;
        return Readable.from(
          (async function* () {
            for await (const c of s as AsyncIterable<Buffer>) {
              n += c.length;
              if (n > 1024 * 1024) throw new Error('connection reset by peer');
              yield c;
            }
          })(),
        );
      },
    };
    const err = await checkStoredArchive(failing, 'x', 'x.sql.gz', written).catch((e) => e);
    expect(err.code).toBe('storage');
    expect(err.message).toMatch(/^reading the archive x\.sql\.gz back from storage failed at byte \d+: connection reset by peer$/);
    const refused: StorageBackend = { ...storage, location: storage.location, get: async () => Promise.reject(new Error('EACCES: permission denied')) };
    const err2 = await checkStoredArchive(refused, 'x', 'x.sql.gz', written).catch((e) => e);
    expect(err2.code).toBe('storage');
    expect(err2.message).toBe('cannot read the archive x.sql.gz back from storage: EACCES: permission denied');
  });
});
