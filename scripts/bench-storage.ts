/**
 * Peak memory of S3Storage.put for a large generated stream (default 1 GiB) against a real S3
 * server (s3rver) running in a CHILD process, so the number is the uploader's alone.
 *
 *   npx tsx scripts/bench-storage.ts [sizeMiB=1024] [--local DIR]
 *
 * Prints size, wall time, throughput and peak RSS (getrusage maxrss of this process).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LocalStorage } from '../lib/storage/local/local-storage';
import { S3Storage } from '../lib/storage/s3/s3-storage';
import type { StorageBackend } from '../lib/storage/storage-backend';
import { startS3Server } from '../test/helpers/s3-server';

const MiB = 1024 * 1024;

async function serverMode(): Promise<void> {
  const s = await startS3Server();
  process.stdout.write(`${JSON.stringify({ endpoint: s.endpoint, bucket: s.bucket })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void s.stop().then(() => process.exit(0)));
}

/** Fresh-looking bytes without the cost of a CSPRNG per byte: one random MiB, stamped per chunk. */
function generated(size: number): Readable {
  const block = randomBytes(MiB);
  let sent = 0;
  let n = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const len = Math.min(MiB, size - sent);
      const chunk = Buffer.from(block.subarray(0, len));
      chunk.writeUInt32LE(n++, 0);
      sent += len;
      this.push(chunk);
    },
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === 'server') return serverMode();
  const sizeMiB = Number(process.argv[2] ?? 1024);
  const localIdx = process.argv.indexOf('--local');
  let storage: StorageBackend;
  let child: ReturnType<typeof spawn> | undefined;
  if (localIdx > 0) {
    storage = new LocalStorage(process.argv[localIdx + 1]);
  } else {
    child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'server'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: child!.stdout! }).once('line', resolve));
    const { endpoint, bucket } = JSON.parse(line) as { endpoint: string; bucket: string };
    storage = new S3Storage({ bucket, prefix: 'bench', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  }
  const rssBefore = process.memoryUsage().rss;
  let sampledPeak = rssBefore;
  let peakAB = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    sampledPeak = Math.max(sampledPeak, m.rss);
    peakAB = Math.max(peakAB, m.arrayBuffers);
  }, 50);
  const t0 = performance.now();
  const { size } = await storage.put('bench.bin', generated(sizeMiB * MiB));
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const st = await storage.stat('bench.bin');
  await storage.delete('bench.bin');
  await storage.close();
  child?.stdin?.end();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024; // KiB -> MiB
  console.log(
    JSON.stringify({
      target: storage.location,
      sizeMiB: size / MiB,
      statSizeOk: st.size === size,
      seconds: Number(secs.toFixed(2)),
      MiBps: Number((size / MiB / secs).toFixed(1)),
      rssBeforeMiB: Number((rssBefore / MiB).toFixed(1)),
      peakRssSampledMiB: Number((sampledPeak / MiB).toFixed(1)),
      peakRssMaxrssMiB: Number(maxRssMiB.toFixed(1)),
      peakArrayBuffersMiB: Number((peakAB / MiB).toFixed(1)),
    }),
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
