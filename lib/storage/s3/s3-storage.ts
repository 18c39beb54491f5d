import { PassThrough, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { AppError, oneLine } from '../../errors';
import type { StorageBackend, StoredObject } from '../storage-backend';
import { notFound, sourceFailed } from '../storage-errors';
import { compareKeys, validateKey, validatePrefix } from '../validate-key';

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or e.g. 'backups/prod'); leading/trailing '/' ignored. */
  prefix?: string;
  /** Default: AWS_REGION, else AWS_DEFAULT_REGION, else 'us-east-1'. */
  region?: string;
  /** Default: S3_ENDPOINT (MinIO, R2, Supabase Storage...); unset means AWS S3. */
  endpoint?: string;
  /** Default: S3_FORCE_PATH_STYLE ('true' or '1'). Most S3-compatible services need it. */
  forcePathStyle?: boolean;
  /** Default: the SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently (default 2). Memory is about (queueSize + 1) × partSize. */
  queueSize?: number;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 2;

/** The AWS SDK modules, loaded on first use: a backup to local storage never pays for loading them (~0.4 s CPU under tsx). */
interface S3Sdk {
  client: typeof import('@aws-sdk/client-s3');
  storage: typeof import('@aws-sdk/lib-storage');
}
let sdkLoading: Promise<S3Sdk> | undefined;
function loadSdk(): Promise<S3Sdk> {
  sdkLoading ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]).then(([client, storage]) => ({ client, storage }));
  return sdkLoading;
}

/**
 * StorageBackend on an S3-compatible bucket. put streams through a multipart upload with a
 * bounded number of parts in memory, so a multi-GB archive needs only tens of MB. Atomicity comes
 * from S3 itself: an object appears only when PutObject / CompleteMultipartUpload succeeds; on any
 * failure the multipart upload is aborted so no parts linger (and are not billed).
 */
export class S3Storage implements StorageBackend {
  readonly location: string;
  readonly bucket: string;
  /** '' or 'a/b' (no leading/trailing '/'). */
  readonly prefix: string;
  private readonly config: S3ClientConfig;
  private connected: Promise<{ client: S3Client; sdk: S3Sdk }> | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly endpointForMessages: string;
  private bucketChecked = false;
  private closed = false;

  constructor(opts: S3StorageOptions) {
    if (!opts.bucket) throw new AppError('config', 'S3 storage needs a bucket name (s3://bucket/prefix)');
    this.bucket = opts.bucket;
    this.prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.location = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.partSize = opts.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = opts.queueSize ?? DEFAULT_QUEUE_SIZE;
    const env = process.env;
    const endpoint = opts.endpoint ?? (env.S3_ENDPOINT || undefined);
    this.endpointForMessages = endpoint ? redactEndpoint(endpoint) : 'AWS S3';
    // The SDK warns on stderr about Node < 22 once per process; the CLI's output must stay one
    // clear line per problem, and that warning is not ours to act on.
    env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const config: S3ClientConfig = {
      region: opts.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1'),
      endpoint,
      forcePathStyle: opts.forcePathStyle ?? /^(true|1|yes)$/i.test(env.S3_FORCE_PATH_STYLE ?? ''),
      credentials: opts.credentials,
      // Default CRC trailers (aws-chunked bodies) are not understood by many S3-compatible services
      // (older MinIO, Supabase, s3rver); send checksums only where an API requires them, unless the
      // standard AWS_* variables say otherwise.
      requestChecksumCalculation: env.AWS_REQUEST_CHECKSUM_CALCULATION ? undefined : 'WHEN_REQUIRED',
      responseChecksumValidation: env.AWS_RESPONSE_CHECKSUM_VALIDATION ? undefined : 'WHEN_REQUIRED',
    };
    this.config = config;
  }

  /** The SDK client, created on first use (nothing is loaded or contacted before). */
  private s3(): Promise<{ client: S3Client; sdk: S3Sdk }> {
    this.connected ??= loadSdk().then((sdk) => ({ sdk, client: new sdk.client.S3Client(this.config) }));
    return this.connected;
  }

  private objectKey(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    validateKey(key);
    let size = 0;
    let sourceError: unknown;
    body.once('error', (err) => (sourceError ??= err));
    const counter = new Transform({
      transform(chunk: Buffer | string, _enc, cb) {
        size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        cb(null, chunk);
      },
    });
    // A source error reaches the upload (which then aborts the multipart). Not pipeline(): when the
    // upload fails, the SDK stops reading `counter` and destroys it with a bare AbortError, which
    // pipeline would pass on to `body`, so its writer would fail with "The operation was aborted"
    // before the storage error is known. `body` is destroyed below with the real cause instead.
    body.on('error', (err) => counter.destroy(err));
    body.pipe(counter);
    // After the listeners: the first use loads the SDK, and the body may fail meanwhile.
    let s3: Awaited<ReturnType<S3Storage['s3']>>;
    try {
      s3 = await this.s3();
    } catch (err) {
      const e = this.mapError(err, 'upload', key);
      counter.destroy(e);
      body.destroy(e);
      throw e;
    }
    const { client, sdk } = s3;
    const upload = new sdk.storage.Upload({
      client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: counter, ContentType: contentType(key) },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      const e = sourceError !== undefined ? sourceFailed(sourceError, key, this.location) : this.mapError(err, 'upload', key);
      // Destroyed with the cause: whoever is still writing the body (the archive writer) fails
      // with the storage error, not a bare "The operation was aborted" that would hide it.
      counter.destroy(e);
      body.destroy(e);
      throw e;
    }
    if (sourceError !== undefined) throw sourceFailed(sourceError, key, this.location);
    return { size };
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Readable> {
    validateKey(key);
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new AppError('usage', `invalid byte range ${start}-${end} for ${key} in ${this.location}`);
      }
    }
    try {
      const s3 = await this.s3();
      const res = await s3.client.send(
        new s3.sdk.client.GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      const body = res.Body as Readable;
      return this.mapStreamErrors(range ? exactRange(body, range, res.ContentRange) : body, key);
    } catch (err) {
      if (range && errorName(err) === 'InvalidRange') {
        throw new AppError('usage', `byte range ${range.start}-${range.end} is outside ${key} in ${this.location}`);
      }
      throw await this.notFoundOrBucket(err, 'get', key);
    }
  }

  async stat(key: string): Promise<StoredObject> {
    validateKey(key);
    try {
      const s3 = await this.s3();
      const res = await s3.client.send(new s3.sdk.client.HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, size: res.ContentLength ?? 0, modifiedAt: res.LastModified ?? new Date(0) };
    } catch (err) {
      throw await this.notFoundOrBucket(err, 'stat', key);
    }
  }

  async list(prefix = ''): Promise<StoredObject[]> {
    validatePrefix(prefix);
    const root = this.prefix ? `${this.prefix}/` : '';
    const out: StoredObject[] = [];
    let token: string | undefined;
    try {
      do {
        const s3 = await this.s3();
        const res = await s3.client.send(new s3.sdk.client.ListObjectsV2Command({ Bucket: this.bucket, Prefix: root + prefix, ContinuationToken: token }));
        for (const o of res.Contents ?? []) {
          if (!o.Key || !o.Key.startsWith(root)) continue;
          const key = o.Key.slice(root.length);
          // Zero-byte "folder" markers some consoles create are not objects of ours.
          if (key === '' || key.endsWith('/')) continue;
          out.push({ key, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.mapError(err, 'list');
    }
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Incomplete multipart uploads under the prefix (an upload cut off by an outage or a kill). */
  async listIncomplete(): Promise<{ key: string; ref: string }[]> {
    const root = this.prefix ? `${this.prefix}/` : '';
    const out: { key: string; ref: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const s3 = await this.s3();
        const res = await s3.client.send(new s3.sdk.client.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: root, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
        for (const u of res.Uploads ?? []) {
          if (u.Key && u.UploadId && u.Key.startsWith(root)) out.push({ key: u.Key.slice(root.length), ref: JSON.stringify([u.Key, u.UploadId]) });
        }
        if (!res.IsTruncated) break;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker;
      }
    } catch (err) {
      throw this.mapError(err, 'list multipart uploads of', root || '/');
    }
    return out;
  }

  async removeIncomplete(ref: string): Promise<void> {
    const [Key, UploadId] = JSON.parse(ref) as [string, string];
    try {
      const s3 = await this.s3();
      await s3.client.send(new s3.sdk.client.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }));
    } catch (err) {
      if (errorName(err) === 'NoSuchUpload') return;
      throw this.mapError(err, 'abort the multipart upload of', Key);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      const s3 = await this.s3();
      await s3.client.send(new s3.sdk.client.DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      const name = errorName(err);
      if (name === 'NoSuchKey' || (name === 'NotFound' && statusOf(err) === 404)) return;
      throw this.mapError(err, 'delete', key);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.connected) (await this.connected).client.destroy();
  }

  /**
   * HEAD responses carry no error body, so a missing bucket and a missing key both arrive as a
   * bare 404. Ask once whether the bucket exists, so "bucket missing" is never reported as a
   * missing backup.
   */
  private async notFoundOrBucket(err: unknown, op: string, key: string): Promise<AppError> {
    const name = errorName(err);
    const is404 = statusOf(err) === 404 && name !== 'NoSuchBucket';
    if (name !== 'NoSuchKey' && !is404) return this.mapError(err, op, key);
    if (!this.bucketChecked) {
      try {
        const s3 = await this.s3();
        await s3.client.send(new s3.sdk.client.HeadBucketCommand({ Bucket: this.bucket }));
        this.bucketChecked = true;
      } catch (bucketErr) {
        if (statusOf(bucketErr) === 404) return this.bucketMissing(bucketErr);
        return this.mapError(bucketErr, op, key);
      }
    }
    return notFound(key, this.location);
  }

  /**
   * The object body arrives after get() returned: a connection reset or timeout while reading it
   * is a raw Node error ('aborted', code ECONNRESET) that callers would otherwise take for a
   * database failure. Readers get the storage error naming the object instead.
   */
  private mapStreamErrors(body: Readable, key: string): Readable {
    const out = new PassThrough();
    body.once('error', (err) => out.destroy(this.mapError(err, 'read', key)));
    // The reader stopped early (or failed): stop downloading.
    out.once('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(out);
    return out;
  }

  private bucketMissing(cause: unknown): AppError {
    return new AppError('storage', `bucket '${this.bucket}' does not exist (${this.location})`, { cause });
  }

  /** One-line 'storage' errors; SDK messages never contain the secret key, and we add none. */
  private mapError(err: unknown, op: string, key?: string): AppError {
    if (err instanceof AppError) return err;
    const name = errorName(err);
    const status = statusOf(err);
    const what = key ? `${this.location}/${key}` : this.location;
    const msg = oneLine((err as Error | undefined)?.message ?? String(err));
    const code = (err as { code?: string } | undefined)?.code;
    if (name === 'NoSuchBucket') return this.bucketMissing(err);
    if (name === 'NoSuchKey' && key) return notFound(key, this.location);
    if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'InvalidToken' || name === 'ExpiredToken') {
      return new AppError('storage', `storage ${this.location}: credentials rejected by ${this.endpointForMessages} (${name}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`, { cause: err });
    }
    if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(msg)) {
      return new AppError('storage', `storage ${this.location}: no S3 credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`, { cause: err });
    }
    if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
      return new AppError('storage', `storage ${what} not ${op === 'upload' || op === 'delete' ? 'writable' : 'readable'}: access denied`, { cause: err });
    }
    const netCodes = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'];
    if ((code && netCodes.includes(code)) || name === 'TimeoutError' || netCodes.some((c) => msg.includes(c))) {
      return new AppError('storage', `storage ${what} unreachable at ${this.endpointForMessages}: ${msg}`, { cause: err });
    }
    if (name === 'EntityTooLarge' || name === 'QuotaExceeded' || status === 507) {
      return new AppError('storage', `storage ${what} is full: ${name}: ${msg}`, { cause: err });
    }
    const label = name && name !== 'Error' && !msg.startsWith(name) ? `${name}: ${msg}` : msg;
    return new AppError('storage', `storage ${what}: ${op} failed: ${label}`, { cause: err });
  }
}

/**
 * HTTP lets a server ignore Range (200 with the whole object), and some S3-compatible servers
 * answer a wider range than asked; callers of get(key, range) must still get exactly the bytes
 * [start, end] (end clamped to the object). Trims the body client-side when needed.
 */
function exactRange(body: Readable, range: { start: number; end: number }, contentRange: string | undefined): Readable {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange ?? '');
  const from = m ? Number(m[1]) : 0;
  const to = m ? Number(m[2]) : Infinity;
  const total = m && m[3] !== '*' ? Number(m[3]) : Infinity;
  const wantEnd = Math.min(range.end, total - 1);
  if (from === range.start && to === wantEnd) return body;
  let skip = range.start - from;
  let take = wantEnd - range.start + 1;
  const trimmed = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (take <= 0) return cb();
      let c = chunk;
      if (skip > 0) {
        const n = Math.min(skip, c.length);
        skip -= n;
        c = c.subarray(n);
      }
      if (c.length > take) c = c.subarray(0, take);
      take -= c.length;
      cb(null, c.length ? c : undefined);
      // Everything wanted has passed: stop downloading the rest.
      if (take <= 0) {
        this.push(null);
        body.destroy();
      }
    },
  });
  pipeline(body, trimmed, () => undefined);
  return trimmed;
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** Endpoint for messages: scheme, host and port only (never user:password@ or a query). */
function redactEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the configured S3_ENDPOINT';
  }
}

function contentType(key: string): string {
  if (key.endsWith('.gz')) return 'application/gzip';
  if (key.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}
