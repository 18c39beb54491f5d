import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { encryptedArchiveKey, manifestKey, type Manifest } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { exec, hashesOf, seedTicketHub, tempStorage } from './restore-test-helpers';

// restore --jobs N reads every archive member by its own byte range. An encrypted (age) archive
// has no random access: each range used to decrypt the file from its start, so the restore read
// the ciphertext once per member — quadratic in the backup's size. Now the archive is decrypted
// once (preflight's SHA-256 pass) into a spool encrypted with a key only the restoring process
// holds, and the ranges come from there. The storage below counts the bytes it serves.

const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let spoolDir: string;
let id: string;
let manifest: Manifest;
let expected: Awaited<ReturnType<typeof hashesOf>>;
const saved = { identity: process.env.BACKUP_ENCRYPTION_IDENTITY, spool: process.env.BACKUP_SPOOL_DIR };

/** The same storage, counting the bytes each key's reads deliver. */
function counting(inner: StorageBackend): StorageBackend & { read: Map<string, number> } {
  const read = new Map<string, number>();
  return {
    location: inner.location,
    read,
    put: (k, b) => inner.put(k, b),
    async get(key, range) {
      const s = await inner.get(key, range);
      const count = new Transform({
        transform(c: Buffer, _e, cb) {
          read.set(key, (read.get(key) ?? 0) + c.length);
          cb(null, c);
        },
      });
      s.on('error', (err) => count.destroy(err));
      count.on('close', () => s.destroy());
      return s.pipe(count);
    },
    stat: (k) => inner.stat(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    close: () => inner.close(),
  };
}

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'encpar' });
  dbs.push(src);
  await seedTicketHub(src.url, 200);
  // A table of several members (small chunks), so that --jobs reads many ranges of one file.
  await exec(src.url, `CREATE TABLE public.big (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.big SELECT g, md5(g::text) || repeat('y', g % 200) FROM generate_series(1, 20000) g;`);
  expected = await hashesOf(src.url);
  expected['public.backup_runs'] = { rows: 0, hash: 'd41d8cd98f00b204e9800998ecf8427e' };
  ({ storage, dir } = await tempStorage());
  const kp = await generateKeyPair();
  process.env.BACKUP_ENCRYPTION_IDENTITY = kp.identity;
  spoolDir = await mkdtemp(path.join(os.tmpdir(), 'encpar-spool-'));
  process.env.BACKUP_SPOOL_DIR = spoolDir;
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', encryptionRecipients: [kp.recipient], chunkBytes: 64 * 1024 })).id;
  manifest = JSON.parse(await readFile(path.join(dir, manifestKey(id)), 'utf8')) as Manifest;
}, 300_000);

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  for (const [k, v] of [['BACKUP_ENCRYPTION_IDENTITY', saved.identity], ['BACKUP_SPOOL_DIR', saved.spool]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const d of [dir, spoolDir]) if (d) await rm(d, { recursive: true, force: true });
});

describe('restore --jobs of an encrypted backup', () => {
  it('restores exactly, reading the ciphertext ONCE, through a spool that holds no plaintext and is removed', async () => {
    const ct = manifest.encryption!.ciphertext.sizeBytes;
    const members = manifest.entries.filter((e) => e.section !== 'header').length;
    expect(manifest.tables.find((t) => t.name === 'big')!.entries.length).toBeGreaterThan(3);
    const st = counting(storage);
    const t = await createTestDatabase({ prefix: 'encpar' });
    dbs.push(t);
    let spooled: Buffer | undefined;
    const r = await restoreParallel({
      source: id,
      storage: st,
      targetUrl: t.url,
      jobs: 2,
      // After preflight, before the load: the spool is there, the archive's size, not gzip.
      confirm: async () => {
        const [d] = await readdir(spoolDir);
        if (d) spooled = await readFile(path.join(spoolDir, d, 'archive.spool'));
        return true;
      },
    });
    expect(r.rows).toBe(manifest.totals.rows);
    expect(await hashesOf(t.url)).toEqual(expected);
    // Every member was read (as a range), yet the stored file only once: by the SHA-256 check.
    expect(members).toBeGreaterThan(20);
    expect(st.read.get(encryptedArchiveKey(id))).toBe(ct);
    expect(spooled?.length).toBe(manifest.archive.sizeBytes);
    expect(spooled!.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false); // a gzip archive starts 1f 8b
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('the one-connection restore reads it twice (SHA-256 check, then the load) and needs no spool', async () => {
    const st = counting(storage);
    const t = await createTestDatabase({ prefix: 'encpar' });
    dbs.push(t);
    await restoreBackup({ source: id, storage: st, targetUrl: t.url, confirm: async () => (await readdir(spoolDir)).length === 0 });
    expect(await hashesOf(t.url)).toEqual(expected);
    expect(st.read.get(encryptedArchiveKey(id))).toBe(2 * manifest.encryption!.ciphertext.sizeBytes);
  });

  it('a failed --jobs restore leaves no spool behind', async () => {
    const t = await createTestDatabase({ prefix: 'encpar' });
    dbs.push(t);
    await exec(t.url, 'CREATE TABLE public.in_the_way (x int)');
    await expect(restoreParallel({ source: id, storage, targetUrl: t.url, jobs: 2 })).rejects.toMatchObject({ code: 'conflict' });
    expect(await readdir(spoolDir)).toEqual([]);
  });
});
