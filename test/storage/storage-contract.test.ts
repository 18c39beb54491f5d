import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { AppError } from '../../lib/errors';
import { isNotFound } from '../../lib/storage/storage-backend';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { LocalStorage } from '../../lib/storage/local/local-storage';
import { S3Storage } from '../../lib/storage/s3/s3-storage';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startS3Server } from '../helpers/s3-server';
import type { TestS3Server } from '../helpers/s3-server';

/** A fresh, empty storage per test, plus an adapter-specific check that nothing half-written remains. */
interface ContractFixture {
  storage: StorageBackend;
  /** Every leftover the adapter may have created outside list() (local: temp files). */
  leftovers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const MB = 1024 * 1024;

/** Deterministic pseudo-random bytes (xorshift32), generated chunk by chunk, never held whole. */
function generated(size: number, seed = 1, opts: { chunk?: number; failAfter?: number; error?: Error; slow?: boolean } = {}) {
  const chunk = opts.chunk ?? 64 * 1024;
  const hash = createHash('sha256');
  let digest: string | undefined;
  async function* gen() {
    let x = seed >>> 0 || 1;
    let sent = 0;
    while (sent < size) {
      if (opts.failAfter !== undefined && sent >= opts.failAfter) throw opts.error ?? new Error('source exploded halfway');
      const n = Math.min(chunk, size - sent);
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        buf[i] = x & 0xff;
      }
      hash.update(buf);
      sent += n;
      if (opts.slow) await new Promise((r) => setTimeout(r, 2));
      yield buf;
    }
    digest = hash.digest('hex');
  }
  return {
    stream: Readable.from(gen(), { objectMode: false }),
    /** SHA-256 of everything produced; available once the stream ended. */
    sha256: () => digest,
  };
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function hashOf(s: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected a rejection');
}

/**
 * The StorageBackend contract, as behaviour callers rely on. Run once per adapter with a factory
 * giving a fresh, empty storage.
 */
function storageContract(factory: () => Promise<ContractFixture>) {
  let fx: ContractFixture;
  let s: StorageBackend;
  beforeEach(async () => {
    fx = await factory();
    s = fx.storage;
  });
  afterEach(async () => {
    await fx.storage.close();
    await fx.storage.close(); // idempotent
    await fx.cleanup();
  });

  it('round-trips a multi-MB generated stream byte for byte', async () => {
    const size = 20 * MB + 12345; // more than two S3 parts, not a multiple of anything
    const src = generated(size, 7);
    const res = await s.put('20261125T020000Z-ab12cd.sql.gz', src.stream);
    expect(res.size).toBe(size);
    const back = await hashOf(await s.get('20261125T020000Z-ab12cd.sql.gz'));
    expect(back).toEqual({ sha256: src.sha256(), size });
  });

  it('reads inclusive byte ranges: first byte, middle, last byte, end clamped', async () => {
    const size = 3 * MB + 17;
    const whole = await readAll(generated(size, 3).stream);
    await s.put('r.bin', generated(size, 3).stream);
    expect(await readAll(await s.get('r.bin', { start: 0, end: 0 }))).toEqual(whole.subarray(0, 1));
    const middle = await readAll(await s.get('r.bin', { start: 1_000_000, end: 2_000_123 }));
    expect(middle.length).toBe(1_000_124);
    expect(middle.equals(whole.subarray(1_000_000, 2_000_124))).toBe(true);
    expect(await readAll(await s.get('r.bin', { start: size - 1, end: size - 1 }))).toEqual(whole.subarray(size - 1));
    expect(await readAll(await s.get('r.bin', { start: size - 10, end: size + 1000 }))).toEqual(whole.subarray(size - 10));
    expect((await rejection(s.get('r.bin', { start: 5, end: 4 }))).code).toBe('usage');
    expect((await rejection(s.get('r.bin', { start: size, end: size + 5 }))).code).toBe('usage');
  });

  it('stat reports size and a current modification time', async () => {
    const before = Date.now();
    await s.put('s.bin', generated(123_456, 9).stream);
    const st = await s.stat('s.bin');
    expect(st.key).toBe('s.bin');
    expect(st.size).toBe(123_456);
    // Second granularity on S3; allow clock skew between test and server of a few seconds.
    expect(st.modifiedAt.getTime()).toBeGreaterThan(before - 5000);
    expect(st.modifiedAt.getTime()).toBeLessThan(Date.now() + 5000);
  });

  it('stores an empty object', async () => {
    expect(await s.put('empty.bin', Readable.from([]))).toEqual({ size: 0 });
    expect((await s.stat('empty.bin')).size).toBe(0);
    expect((await readAll(await s.get('empty.bin'))).length).toBe(0);
  });

  it('lists every object sorted by key (UTF-8 byte order), filtered by prefix', async () => {
    expect(await s.list()).toEqual([]);
    const keys = ['b.sql.gz', 'a.sql.gz', 'a.manifest.json', 'c/d.txt', '\uFF21.bin', '\u{1F600}.bin', 'a0'];
    for (const [i, k] of keys.entries()) await s.put(k, Readable.from([Buffer.alloc(i + 1, i)]));
    const all = await s.list();
    // UTF-16 order would put the emoji (D83D) before U+FF21; S3 and we order by UTF-8 bytes (EF < F0).
    expect(all.map((o) => o.key)).toEqual(['a.manifest.json', 'a.sql.gz', 'a0', 'b.sql.gz', 'c/d.txt', '\uFF21.bin', '\u{1F600}.bin']);
    expect(all.find((o) => o.key === 'b.sql.gz')?.size).toBe(1);
    expect(all.every((o) => o.modifiedAt instanceof Date)).toBe(true);
    expect((await s.list('a.')).map((o) => o.key)).toEqual(['a.manifest.json', 'a.sql.gz']);
    expect((await s.list('c/')).map((o) => o.key)).toEqual(['c/d.txt']);
    expect((await s.list('c')).map((o) => o.key)).toEqual(['c/d.txt']);
    expect(await s.list('zzz')).toEqual([]);
  });

  it('delete removes the object and is idempotent', async () => {
    await s.put('d.bin', Readable.from([Buffer.from('x')]));
    await s.delete('d.bin');
    await s.delete('d.bin');
    await s.delete('never-existed.bin');
    expect(isNotFound(await rejection(s.stat('d.bin')))).toBe(true);
    expect(await s.list()).toEqual([]);
  });

  it('get and stat of a missing object reject with not_found before any byte', async () => {
    const g = await rejection(s.get('missing.sql.gz'));
    expect(isNotFound(g)).toBe(true);
    expect(g.message).toContain('missing.sql.gz');
    expect(isNotFound(await rejection(s.get('missing.sql.gz', { start: 0, end: 10 })))).toBe(true);
    expect(isNotFound(await rejection(s.stat('missing.sql.gz')))).toBe(true);
  });

  it('overwrite replaces the object entirely', async () => {
    await s.put('o.bin', generated(2 * MB, 1).stream);
    const second = generated(1000, 2);
    await s.put('o.bin', second.stream);
    expect(await hashOf(await s.get('o.bin'))).toEqual({ sha256: second.sha256(), size: 1000 });
    expect((await s.list()).map((o) => [o.key, o.size])).toEqual([['o.bin', 1000]]);
  });

  for (const [label, size, failAfter] of [
    ['small (single request)', 3 * MB, 1 * MB],
    ['large (multipart)', 30 * MB, 18 * MB],
  ] as const) {
    it(`a put whose source errors halfway leaves nothing visible: ${label}`, async () => {
      const src = generated(size, 5, { failAfter });
      const err = await rejection(s.put('half.sql.gz', src.stream));
      expect(err.code).toBe('storage');
      expect(err.message).toMatch(/source stream error: source exploded halfway/);
      expect(err.message).not.toContain('\n');
      expect(await s.list()).toEqual([]);
      expect(isNotFound(await rejection(s.stat('half.sql.gz')))).toBe(true);
      expect(await fx.leftovers()).toEqual([]);
    });
  }

  it("a source's own AppError passes through unchanged and the old object survives", async () => {
    await s.put('keep.bin', Readable.from([Buffer.from('old version')]));
    const cause = new AppError('db_unreachable', 'connection to the database was lost during COPY');
    const err = await rejection(s.put('keep.bin', generated(2 * MB, 4, { failAfter: MB, error: cause }).stream));
    expect(err).toBe(cause);
    expect((await readAll(await s.get('keep.bin'))).toString()).toBe('old version');
    expect(await fx.leftovers()).toEqual([]);
  });

  it('a reader during a put never sees a partial object (new key and overwrite)', async () => {
    const oldData = generated(MB + 3, 11);
    await s.put('c.bin', oldData.stream);
    const oldHash = oldData.sha256();
    const next = generated(12 * MB, 12, { chunk: 256 * 1024, slow: true });
    const fresh = generated(12 * MB, 13, { chunk: 256 * 1024, slow: true });
    let done = false;
    const writes = Promise.all([s.put('c.bin', next.stream), s.put('n.bin', fresh.stream)]).finally(() => (done = true));
    // Whatever the readers find, the writes must be over before the storage is torn down.
    onTestFinished(() => writes.then(() => undefined, () => undefined));
    const seen = { old: 0, new: 0, missing: 0, freshSeen: 0 };
    const newHashes = new Set<string>();
    while (!done) {
      const got = await hashOf(await s.get('c.bin'));
      if (got.sha256 === oldHash) seen.old++;
      else {
        expect(got.size).toBe(12 * MB); // anything else is a partial object
        newHashes.add(got.sha256);
        seen.new++;
      }
      try {
        const st = await s.stat('n.bin');
        expect(st.size).toBe(12 * MB);
        seen.freshSeen++;
      } catch (err) {
        expect(isNotFound(err)).toBe(true);
        seen.missing++;
      }
      const listed = await s.list();
      expect(listed.every((o) => (o.key === 'n.bin' ? o.size === 12 * MB : true))).toBe(true);
      expect(listed.map((o) => o.key).every((k) => k === 'c.bin' || k === 'n.bin')).toBe(true);
    }
    await writes;
    expect(seen.old).toBeGreaterThan(0); // the reader really ran while the put was in progress
    expect(await hashOf(await s.get('c.bin'))).toEqual({ sha256: next.sha256(), size: 12 * MB });
    for (const h of newHashes) expect(h).toBe(next.sha256()); // never a mix of old and new bytes
    expect(await hashOf(await s.get('n.bin'))).toEqual({ sha256: fresh.sha256(), size: 12 * MB });
  });

  it('rejects keys that could escape the root or are not portable, with a usage error', async () => {
    const bad = ['', '../x', 'a/../b', '..', '/abs.sql.gz', 'a\\b', 'a//b', 'dir/', '.hidden', 'x/.tmp', 'nul\u0000byte', 'x'.repeat(1025)];
    for (const key of bad) {
      for (const op of [
        () => s.put(key, Readable.from([Buffer.from('x')])),
        () => s.get(key),
        () => s.stat(key),
        () => s.delete(key),
      ]) {
        const err = await rejection(op());
        expect(err.code, `key ${JSON.stringify(key)}`).toBe('usage');
      }
    }
    expect((await rejection(s.list('../'))).code).toBe('usage');
    expect(await s.list()).toEqual([]);
    expect(await fx.leftovers()).toEqual([]);
  });

  it('stores Unicode and punctuation keys verbatim', async () => {
    const keys = ['überweisung-票-😀.sql.gz', 'with space+plus&amp=;,@$.bin', 'sub/dir/deep.json', "quote'\"#?%.bin"];
    for (const k of keys) await s.put(k, Readable.from([Buffer.from(k)]));
    for (const k of keys) expect((await readAll(await s.get(k))).toString()).toBe(k);
    expect((await s.list()).map((o) => o.key).sort()).toEqual([...keys].sort());
    for (const k of keys) await s.delete(k);
    expect(await s.list()).toEqual([]);
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('LocalStorage', () => {
  storageContract(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tickethub-storage-'));
    // The root does not exist yet: the first put must create it.
    const storage = new LocalStorage(path.join(dir, 'backups'));
    return {
      storage,
      // Any file that is not a listed object (temp files of a failed put) is a leftover.
      async leftovers() {
        const listed = new Set((await storage.list()).map((o) => o.key));
        return (await filesUnder(dir)).filter((f) => !listed.has(f.split(path.sep).slice(1).join('/')));
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
});

describe('S3Storage on s3rver', () => {
  let server: TestS3Server;
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    await server?.stop();
  });
  storageContract(async () => {
    const prefix = `contract-${randomBytes(4).toString('hex')}`;
    const storage = new S3Storage({
      bucket: server.bucket,
      prefix,
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: server.region,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    const raw = new S3Client({
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: server.region,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    return {
      storage,
      // Whatever the bucket holds under the prefix that the adapter does not list (e.g. objects
      // with odd keys), plus multipart uploads that were started and never completed or aborted.
      async leftovers() {
        const listed = new Set((await storage.list()).map((o) => `${prefix}/${o.key}`));
        const objs = await raw.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/` }));
        const stray = (objs.Contents ?? []).map((o) => o.Key ?? '').filter((k) => !listed.has(k));
        const pending = (await server.incompleteUploads()).filter((k) => k.startsWith(`${prefix}/`));
        return [...stray, ...pending.map((k) => `incomplete multipart upload of ${k}`)];
      },
      async cleanup() {
        raw.destroy();
      },
    };
  });
});
