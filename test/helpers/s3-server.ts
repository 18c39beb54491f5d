import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import S3rver from 's3rver';

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
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickethub-s3rver-'));
  const bucket = opts.bucket ?? `test-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0, // the OS picks a free port: no collisions between parallel test files
    silent: true,
    directory: dir,
    resetOnClose: false,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  let addr: { port: number };
  try {
    addr = await server.run();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // Keep-alive sockets from SDK clients would otherwise hold close() open until they time out.
  const http = server.httpServer;
  const endpoint = `http://127.0.0.1:${addr.port}`;
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
    async stop() {
      if (stopped) return;
      stopped = true;
      const closing = server.close().catch(() => undefined);
      http?.closeAllConnections?.();
      await closing;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
