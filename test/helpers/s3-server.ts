import os from 'node:os';
import path from 'node:path';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';

/* eslint-disable @typescript-eslint/no-explicit-any -- patching an untyped CommonJS module */
const require = createRequire(import.meta.url);

/**
 * s3rver 3.7.1 departs from S3 in three ways that make correct clients look broken, so they are
 * fixed here, once per process, by replacing two methods of its filesystem store:
 * - PUT writes the object file in place and reports success before the file is flushed: a reader
 *   can see a half-written or mixed old/new object, and an aborted upload leaves a partial object.
 *   Real S3 PUT/CompleteMultipartUpload is atomic. Fixed: temp file, then rename.
 * - GET reads the size from one stat() and the bytes from a later open(): after a concurrent
 *   overwrite the two disagree. Fixed: open once, size from that descriptor.
 * - 'Range: bytes=0-0' returns the whole object (end 0 is taken as "no end"). Fixed.
 * AbortMultipartUpload is not implemented by s3rver (405); `startS3Server` adds it (see
 * abortMultipartMiddleware), so clients' cleanup after a failed upload really runs.
 */
function patchS3rverStore(): void {
  const FilesystemStore = require('s3rver/lib/stores/filesystem.js');
  const S3Object = require('s3rver/lib/models/object.js');
  const proto = FilesystemStore.prototype;
  if (proto.__tickethubPatched) return;
  proto.__tickethubPatched = true;

  proto.putObject = async function putObject(this: any, object: any) {
    const objectPath: string = this.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(path.dirname(objectPath), { recursive: true });
    // Not ending in '._S3rver_object', so s3rver's listing never shows it.
    const temp = `${objectPath}.tmp-${randomBytes(6).toString('hex')}`;
    const md5 = createHash('md5');
    let size = 0;
    try {
      const src: Readable = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
      await pipeline(
        src,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            md5.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(temp),
      );
      const digest = md5.digest('hex');
      await this.putMetadata(object.bucket, object.key, object.metadata, digest);
      await rename(temp, objectPath);
      return { size, md5: digest };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  };

  proto.getObject = async function getObject(this: any, bucket: string, key: string, options?: { start?: number; end?: number }) {
    let fh: FileHandle;
    try {
      fh = await open(this.getResourcePath(bucket, key, 'object'), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const st = await fh.stat();
      const metadata = { ...(await this.getMetadata(bucket, key)), 'content-length': st.size, 'last-modified': st.mtime.toUTCString() };
      const ranged = options?.start !== undefined || options?.end !== undefined;
      const range = { start: options?.start ?? 0, end: Math.min(options?.end ?? Infinity, Math.max(0, st.size - 1)) };
      if (range.start < 0 || range.end < range.start || (ranged && range.start >= st.size)) {
        await fh.close();
        const unsatisfiable = new S3Object(bucket, key, null, metadata);
        if (ranged) unsatisfiable.range = range;
        return unsatisfiable;
      }
      const result = new S3Object(bucket, key, fh.createReadStream({ start: range.start, end: range.end }), metadata);
      if (ranged) result.range = range;
      return result;
    } catch (err) {
      await fh.close().catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Where s3rver keeps the parts of multipart uploads not yet completed or aborted. */
function uploadsDir(dataDir: string, bucket: string): string {
  return path.join(dataDir, bucket, '._S3rver_uploads');
}

/** Koa middleware: DELETE /<bucket>/<key>?uploadId=<id> removes the upload's parts, as S3 does. */
function abortMultipartMiddleware(dataDir: string) {
  return async (ctx: { method: string; path: string; query: Record<string, unknown>; status: number; body: unknown; type: string }, next: () => Promise<void>) => {
    const uploadId = ctx.query.uploadId;
    if (ctx.method !== 'DELETE' || typeof uploadId !== 'string' || !/^[0-9a-f]+$/.test(uploadId)) return next();
    const bucket = decodeURIComponent(ctx.path.split('/')[1] ?? '');
    const dir = path.join(uploadsDir(dataDir, bucket), uploadId);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
      return;
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
  };
}

type KoaCtx = {
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
  body: unknown;
  type: string;
  length?: number;
  res: import('node:http').ServerResponse;
  response: { length?: number };
};

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * Koa middleware: GET /<bucket>?uploads (ListMultipartUploads, NotImplemented in s3rver) lists the
 * uploads neither completed nor aborted, filtered by `prefix`, in one untruncated page, as S3 does
 * for fewer than 1000 uploads; so clients that clean up stray uploads can be tested.
 */
function listMultipartUploadsMiddleware(dataDir: string) {
  return async (ctx: KoaCtx, next: () => Promise<void>) => {
    const parts = ctx.path.split('/').filter(Boolean);
    if (ctx.method !== 'GET' || parts.length !== 1 || !('uploads' in ctx.query)) return next();
    const bucket = decodeURIComponent(parts[0]);
    const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
    const base = uploadsDir(dataDir, bucket);
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    for (const id of await readdir(base).catch(() => [] as string[])) {
      const key = await readFile(path.join(base, id, 'key'), 'utf8').catch(() => null);
      const st = await stat(path.join(base, id)).catch(() => null);
      if (key !== null && st && key.startsWith(prefix)) uploads.push({ key, id, initiated: st.birthtime.getTime() ? st.birthtime : st.mtime });
    }
    uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xmlEscape(prefix)}</Prefix>` +
      `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>` +
      uploads.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`).join('') +
      `</ListMultipartUploadsResult>`;
  };
}

/** A request as `holdRequest`'s matcher sees it: `key` is the object key (without the bucket), '' for bucket requests. */
export interface S3RequestInfo {
  method: string;
  key: string;
  query: Record<string, unknown>;
}

interface Hold {
  match: (r: S3RequestInfo) => boolean;
  afterBodyBytes?: number;
  afterHandled?: boolean;
  held: (r: S3RequestInfo) => void;
}

/**
 * Koa middleware for deterministic outages: once a request matches the armed hold, it (and every
 * request after it) gets no answer, or (afterBodyBytes) stops after that many bytes of its response
 * body, until the server is killed. The test learns the moment from holdRequest's promise.
 */
function holdMiddleware(state: { hold: Hold | null; frozen: boolean; release: Promise<void> }) {
  return async (ctx: KoaCtx, next: () => Promise<void>) => {
    const parts = ctx.path.split('/').filter(Boolean);
    const info: S3RequestInfo = { method: ctx.method, key: parts.slice(1).map(decodeURIComponent).join('/'), query: ctx.query };
    if (state.frozen) return state.release;
    const h = state.hold;
    if (!h || !h.match(info)) return next();
    state.hold = null;
    if (h.afterHandled) {
      // The server did the work (an object is stored) but its answer never leaves.
      await next();
      state.frozen = true;
      h.held(info);
      return state.release;
    }
    if (h.afterBodyBytes === undefined) {
      state.frozen = true;
      h.held(info);
      return state.release;
    }
    await next();
    const body = ctx.body;
    if (!(body instanceof Readable)) {
      state.frozen = true;
      h.held(info);
      return state.release;
    }
    const length = ctx.response.length;
    const res = ctx.res;
    const limit = h.afterBodyBytes;
    let passed = 0;
    const stall = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (passed + chunk.length < limit) {
          passed += chunk.length;
          return cb(null, chunk);
        }
        this.push(chunk.subarray(0, limit - passed));
        passed = limit;
        state.frozen = true;
        // Held once the first `limit` body bytes have left for the client (headers count too).
        const wait = () => (res.destroyed || (res.socket?.bytesWritten ?? 0) >= limit ? h.held(info) : setTimeout(wait, 5));
        wait();
        // never calls cb: the body stops here
      },
    });
    ctx.body = body.pipe(stall);
    if (length !== undefined) ctx.length = length;
  };
}

export interface TestS3Server {
  /** http://127.0.0.1:<port>: pass as `endpoint` with forcePathStyle true. */
  endpoint: string;
  /** A bucket created before the server started accepting requests. */
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** s3://<bucket>/<random prefix>: a fresh, empty location for this server. */
  url: string;
  /**
   * Environment for code that reads storage settings from the environment (openStorage with an
   * s3:// URL, the CLI in a child process). Merge into process.env or a child's env.
   */
  env: Record<string, string>;
  /** The server's data directory (objects and pending multipart uploads live here). */
  directory: string;
  /**
   * Multipart uploads started and neither completed nor aborted, as their object keys: after a
   * failed put this must be empty (S3 bills for stray parts).
   */
  incompleteUploads(): Promise<string[]>;
  /**
   * Arms a deterministic outage: the next request `match` accepts gets no answer (or, with
   * `afterBodyBytes`, stops after that many bytes of its response body; with `afterHandled`, is
   * carried out, e.g. the object stored, but not answered), and neither does any
   * request after it. Resolves once that request is held: then kill() the server (the held
   * request's connection is cut, as when an S3 endpoint goes away mid-request).
   */
  holdRequest(match: (r: S3RequestInfo) => boolean, opts?: { afterBodyBytes?: number; afterHandled?: boolean }): Promise<S3RequestInfo>;
  /** Stops the server as an outage does (connections cut, later requests refused), keeping its data. */
  kill(): Promise<void>;
  /** Starts the server again after kill(), on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops the server and removes its data directory. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts a real S3 server (s3rver) on a free loopback port, backed by a fresh temp directory, with
 * one bucket pre-created. Quiet: s3rver's request logging is off. s3rver accepts only the access
 * key 'S3RVER' (any secret works with SigV4, which it does not verify), so use the returned
 * credentials.
 */
export async function startS3Server(opts: { bucket?: string } = {}): Promise<TestS3Server> {
  patchS3rverStore();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickethub-s3rver-'));
  const bucket = opts.bucket ?? `test-${randomBytes(4).toString('hex')}`;
  let releaseHeld: () => void = () => {};
  const holdState: { hold: Hold | null; frozen: boolean; release: Promise<void> } = { hold: null, frozen: false, release: Promise.resolve() };
  const launch = async (port: number) => {
    const server = new S3rver({
      address: '127.0.0.1',
      port, // 0: the OS picks a free port: no collisions between parallel test files
      silent: true,
      directory: dir,
      resetOnClose: false,
      vhostBuckets: false,
      configureBuckets: [{ name: bucket }],
    });
    // silent: true only mutes the console transport; winston still complains on stderr when a late
    // request (after close) logs. Mute the logger itself.
    (server as unknown as { logger: { silent: boolean } }).logger.silent = true;
    // Before s3rver's router (Koa composes `middleware` when the server starts listening).
    const mw = (server as unknown as { middleware: unknown[] }).middleware;
    mw.splice(mw.length - 1, 0, holdMiddleware(holdState), abortMultipartMiddleware(dir), listMultipartUploadsMiddleware(dir));
    const addr = (await server.run()) as { port: number };
    return { server, port: addr.port };
  };
  let running: Awaited<ReturnType<typeof launch>> | null;
  try {
    running = await launch(0);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = running.port;
  const close = async () => {
    const r = running;
    running = null;
    if (!r) return;
    const closing = r.server.close().catch(() => undefined);
    // Keep-alive sockets from SDK clients (and held requests) would otherwise hold close() open.
    r.server.httpServer?.closeAllConnections?.();
    await closing;
    releaseHeld();
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const accessKeyId = 'S3RVER';
  const secretAccessKey = 'S3RVER';
  const region = 'us-east-1';
  let stopped = false;
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    region,
    url: `s3://${bucket}/run-${randomBytes(3).toString('hex')}`,
    env: {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: region,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
    },
    directory: dir,
    holdRequest(match, holdOpts = {}) {
      if (holdState.frozen || holdState.hold) throw new Error('a hold is already armed or active: kill() and restart() first');
      holdState.release = new Promise<void>((r) => (releaseHeld = r));
      return new Promise<S3RequestInfo>((held) => {
        holdState.hold = { match, afterBodyBytes: holdOpts.afterBodyBytes, afterHandled: holdOpts.afterHandled, held };
      });
    },
    async kill() {
      await close();
    },
    async restart() {
      if (running) throw new Error('the S3 server is running: kill() it first');
      holdState.hold = null;
      holdState.frozen = false;
      running = await launch(port);
    },
    async incompleteUploads() {
      const base = uploadsDir(dir, bucket);
      const ids = await readdir(base).catch(() => [] as string[]);
      return Promise.all(ids.map((id) => readFile(path.join(base, id, 'key'), 'utf8').catch(() => `(upload ${id})`)));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
