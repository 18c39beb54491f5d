import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, httpStatus, toAppError } from '../../lib/errors';
import { S3Storage } from '../../lib/storage/s3/s3-storage';
import type { S3StorageOptions } from '../../lib/storage/s3/s3-storage';
import { startS3Server } from '../helpers/s3-server';
import type { TestS3Server } from '../helpers/s3-server';

let server: TestS3Server;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
});

function storage(over: Partial<S3StorageOptions> = {}): S3Storage {
  return new S3Storage({
    bucket: server.bucket,
    prefix: 'specifics',
    endpoint: server.endpoint,
    forcePathStyle: true,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...over,
  });
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('S3Storage specifics', () => {
  it('a missing bucket is one clear storage error naming it, for every operation', async () => {
    const s = storage({ bucket: 'no-such-bucket', prefix: 'nightly' });
    const expected = "bucket 'no-such-bucket' does not exist (s3://no-such-bucket/nightly)";
    for (const op of [
      () => s.put('a.sql.gz', Readable.from([Buffer.from('x')])),
      () => s.put('big.sql.gz', Readable.from([Buffer.alloc(9 * 1024 * 1024)])), // multipart path
      () => s.list(),
      () => s.stat('a.sql.gz'), // HEAD: a bare 404, must not read as "backup not found"
      () => s.get('a.sql.gz'),
      () => s.get('a.sql.gz', { start: 0, end: 9 }),
    ]) {
      const err = await failure(op());
      expect(err.code).toBe('storage');
      expect(err.message).toBe(expected);
    }
    await s.close();
  });

  it('rejected credentials: a storage error that never contains the secret', async () => {
    const secret = 'TOPSECRET-do-not-print-9f8e7d';
    const s = storage({ credentials: { accessKeyId: 'WRONGKEY', secretAccessKey: secret } });
    const err = await failure(s.list());
    expect(err.code).toBe('storage');
    expect(err.message).toMatch(/credentials rejected .*InvalidAccessKeyId/);
    expect(err.message).not.toContain(secret);
    expect(JSON.stringify(err.details ?? {})).not.toContain(secret);
    await s.close();
  });

  it('an unreachable endpoint: one line naming the endpoint, without credentials', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const s = storage({ endpoint: `http://user:pw-secret@127.0.0.1:${port}` });
    const err = await failure(s.list());
    expect(err.code).toBe('storage');
    expect(err.message).toContain(`unreachable at http://127.0.0.1:${port}`);
    expect(err.message).not.toContain('pw-secret');
    expect(err.message).not.toContain('\n');
    await s.close();
  });

  // A connection reset by the storage (ECONNRESET, as a load balancer or a dying S3 node sends)
  // is a storage failure: it must never come out as 'db_unreachable' ("The database is
  // unavailable"), which sends the operator to the wrong server at 3 a.m.
  describe('a storage endpoint that resets connections (real loopback server, RST)', () => {
    let srv: http.Server;
    let endpoint: string;
    beforeAll(async () => {
      srv = http.createServer((req, res) => {
        if (req.url?.includes('mid-body')) {
          // Headers and the first bytes of a 1 MiB object, then a reset.
          res.writeHead(200, { 'Content-Length': 1 << 20, 'Content-Type': 'application/octet-stream' });
          res.write(Buffer.alloc(64 << 10, 1), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
        } else {
          req.socket.resetAndDestroy();
        }
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      endpoint = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    });

    it('reset in the middle of an object body: a storage error naming the object, also through toAppError', async () => {
      const s = storage({ endpoint, prefix: 'nightly' });
      try {
        const body = await s.get('mid-body.sql.gz');
        const err = await readAll(body).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, 'the read must fail').toBeDefined();
        const ae = toAppError(err, 'cannot read the archive');
        expect(ae.code, ae.message).toBe('storage');
        expect(ae.message).toContain(`s3://${server.bucket}/nightly/mid-body.sql.gz`);
        expect(ae.message).not.toContain('\n');
        expect(httpStatus(ae.code)).toBe(502);
      } finally {
        await s.close();
      }
    });

    it('reset before any answer: every operation is a storage error, and so is the raw SDK error', async () => {
      const s = storage({ endpoint, prefix: 'nightly' });
      try {
        for (const op of [() => s.get('x.sql.gz'), () => s.stat('x.sql.gz'), () => s.list(), () => s.delete('x.sql.gz')]) {
          const err = await failure(op());
          expect(err.code, err.message).toBe('storage');
          expect(err.message).toContain(`unreachable at ${endpoint}`);
        }
      } finally {
        await s.close();
      }
      // An SDK error that escapes an adapter (network errors carry the SDK's $metadata) is still
      // a storage error for toAppError.
      const { S3Client, HeadObjectCommand } = await import('@aws-sdk/client-s3');
      const client = new S3Client({ endpoint, forcePathStyle: true, region: server.region, maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      try {
        const raw = await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'k' })).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((raw as { code?: string }).code).toBe('ECONNRESET');
        expect(toAppError(raw).code).toBe('storage');
      } finally {
        client.destroy();
      }
    });
  });

  it('location names bucket and prefix; prefixes isolate stores in one bucket', async () => {
    const a = storage({ prefix: '/team-a/' });
    const b = storage({ prefix: 'team-b' });
    expect(a.location).toBe(`s3://${server.bucket}/team-a`);
    await a.put('x.sql.gz', Readable.from([Buffer.from('a')]));
    await b.put('x.sql.gz', Readable.from([Buffer.from('bb')]));
    expect((await a.list()).map((o) => [o.key, o.size])).toEqual([['x.sql.gz', 1]]);
    expect((await b.list()).map((o) => [o.key, o.size])).toEqual([['x.sql.gz', 2]]);
    // 'team-a' must not see 'team-ab/...'
    const ab = storage({ prefix: 'team-ab' });
    await ab.put('y.sql.gz', Readable.from([Buffer.from('y')]));
    expect((await a.list()).map((o) => o.key)).toEqual(['x.sql.gz']);
    await Promise.all([a.close(), b.close(), ab.close()]);
  });

  // S3-compatible servers may ignore Range (HTTP allows a 200 with the whole body) or send more
  // than asked: get(key, range) must still yield exactly [start, end].
  it.each([
    ['ignores Range (200, whole object)', 'ignore'],
    ['answers a wider 206 range', 'wider'],
  ])('byte range when the server %s', async (_label, mode) => {
    const body = Buffer.from('0123456789abcdefghij');
    const srv = http.createServer((req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (mode === 'wider' && m) {
        const from = Math.max(0, Number(m[1]) - 3);
        res.writeHead(206, { 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`, 'Content-Length': body.length - from });
        res.end(body.subarray(from));
      } else {
        res.writeHead(200, { 'Content-Length': body.length });
        res.end(body);
      }
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const s = storage({ endpoint: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` });
    try {
      expect((await readAll(await s.get('r.bin', { start: 5, end: 9 }))).toString()).toBe('56789');
      expect((await readAll(await s.get('r.bin', { start: 0, end: 0 }))).toString()).toBe('0');
      expect((await readAll(await s.get('r.bin', { start: 18, end: 100 }))).toString()).toBe('ij');
    } finally {
      await s.close();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it('reads settings from the standard environment when no options are given', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, server.env);
    try {
      const s = new S3Storage({ bucket: server.bucket, prefix: 'from-env' });
      await s.put('e.sql.gz', Readable.from([Buffer.from('env')]));
      expect((await readAll(await s.get('e.sql.gz'))).toString()).toBe('env');
      await s.close();
    } finally {
      for (const k of Object.keys(server.env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
