import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveKey, encryptedArchiveKey } from '../../lib/backup/manifest';
import { archiveKeyToServe } from '../../lib/http/download-response';
import { openStorage } from '../../lib/storage/open-storage';
import { tempDir } from '../helpers/temp-dirs';

// GET /api/admin/backups/{id}/download served `<id>.sql.gz` whenever one existed, before looking for
// the `<id>.sql.gz.age` an encrypted backup really stored. Anyone who can write to the storage could
// plant a plain `<id>.sql.gz` next to an encrypted (even signed) backup: the dashboard's download —
// what an operator feeds to `gunzip | psql` at 3 a.m. — then gave the planted file, not the backup.

const stores: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
});

describe('the archive a download serves', () => {
  it("an encrypted backup's ciphertext, even when a plain <id>.sql.gz was planted beside it; a plain backup's gzip", async () => {
    const storage = openStorage(await tempDir('download-key-'));
    stores.push(storage);
    const enc = '20261203T080000Z-abcdef12';
    await storage.put(encryptedArchiveKey(enc), Readable.from([Buffer.from('age-encryption.org/v1\n')]));
    await storage.put(archiveKey(enc), Readable.from([Buffer.from('planted')]));
    expect(await archiveKeyToServe(storage, enc)).toBe(encryptedArchiveKey(enc));
    const plain = '20261203T080100Z-abcdef13';
    await storage.put(archiveKey(plain), Readable.from([Buffer.from('gzip')]));
    expect(await archiveKeyToServe(storage, plain)).toBe(archiveKey(plain));
  });
});
