import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveSpool } from '../../lib/backup/archive-spool';
import type { ArchiveSource } from '../../lib/backup/archive-source';

// The spool behind `restore --jobs N` of an encrypted backup: one whole read of the (expensive)
// source, then any byte range from the spool, which never holds the archive's bytes in the clear.

const data = randomBytes(3 * 1024 * 1024 + 123);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A real process that spools a whole read of a plaintext archive (a recognisable text), says
 * 'spooled' and waits: the state of a `restore --jobs` killed during its load.
 */
const SPOOLING_CHILD = `
import { Readable } from 'node:stream';
import { ArchiveSpool } from './lib/backup/archive-spool.ts';
const text = Buffer.from('PLAINTEXT-ROW\\n'.repeat(100000));
const src = { label: 'x', id: 'x', manifestText: async () => '{}', archiveSize: async () => text.length, rangesReadFromStart: async () => true, openArchive: async () => Readable.from([text]) };
const s = await new ArchiveSpool().wrap(src);
for await (const _c of await s.openArchive());
process.stdout.write('spooled');
setInterval(() => {}, 1000);
`;
let dir: string;
const saved = process.env.BACKUP_SPOOL_DIR;

/** A source whose every read is counted (as an encrypted one: ranges would start from the beginning). */
function source(): ArchiveSource & { wholeReads: number; bytes: number } {
  const s = {
    label: 'test archive',
    id: 'x',
    wholeReads: 0,
    bytes: 0,
    manifestText: async () => '{}',
    archiveSize: async () => data.length,
    rangesReadFromStart: async () => true,
    async openArchive(range?: { start: number; end: number }) {
      if (range) throw new Error('a range was read from the source');
      s.wholeReads++;
      s.bytes += data.length;
      // Odd piece sizes, so spool writes and CTR blocks never line up.
      const pieces: Buffer[] = [];
      for (let i = 0; i < data.length; i += 65_537) pieces.push(data.subarray(i, i + 65_537));
      return Readable.from(pieces);
    },
  };
  return s;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'spool-test-'));
  process.env.BACKUP_SPOOL_DIR = dir;
});

afterAll(async () => {
  if (saved === undefined) delete process.env.BACKUP_SPOOL_DIR;
  else process.env.BACKUP_SPOOL_DIR = saved;
  await rm(dir, { recursive: true, force: true });
});

describe('ArchiveSpool', () => {
  it('serves every range from one whole read, decrypting ranges that start anywhere; holds no plaintext; dispose removes it', async () => {
    const src = source();
    const spool = new ArchiveSpool();
    const s = await spool.wrap(src);
    expect((await buffer(await s.openArchive())).equals(data)).toBe(true);
    const [d] = await readdir(dir);
    const file = await readFile(path.join(dir, d, 'archive.spool'));
    expect(file.length).toBe(data.length);
    expect(file.subarray(0, 4096).equals(data.subarray(0, 4096))).toBe(false);
    for (const [start, end] of [
      [0, 0],
      [1, 15],
      [15, 16],
      [17, 1_000_000],
      [65_535, 65_537 * 3],
      [data.length - 1, data.length - 1],
      [123_457, data.length - 1],
    ]) {
      expect((await buffer(await s.openArchive({ start, end }))).equals(data.subarray(start, end + 1))).toBe(true);
    }
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => s.openArchive({ start: i * 300_001, end: i * 300_001 + 250_000 }).then(buffer)));
    many.forEach((b, i) => expect(b.equals(data.subarray(i * 300_001, i * 300_001 + 250_001))).toBe(true));
    expect(src.wholeReads).toBe(1);
    await spool.dispose();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a range asked for before any whole read fills the spool once; a cheap source is left alone', async () => {
    const src = source();
    const spool = new ArchiveSpool();
    const s = await spool.wrap(src);
    const [a, b] = await Promise.all([s.openArchive({ start: 5, end: 99 }).then(buffer), s.openArchive({ start: 1_000_000, end: 2_000_000 }).then(buffer)]);
    expect(a.equals(data.subarray(5, 100))).toBe(true);
    expect(b.equals(data.subarray(1_000_000, 2_000_001))).toBe(true);
    expect(src.wholeReads).toBe(1);
    await spool.dispose();
    const cheap = { ...source(), rangesReadFromStart: async () => false };
    expect(await new ArchiveSpool().wrap(cheap)).toBe(cheap);
  });

  it('a process killed (SIGKILL) while it holds a spool leaves no readable plaintext; the next spool removes it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SPOOLING_CHILD], { cwd: ROOT, env: { ...process.env, BACKUP_SPOOL_DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
    const [said] = (await once(child.stdout, 'data')) as [Buffer];
    expect(said.toString()).toBe('spooled');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const left = await readdir(dir);
    expect(left).toEqual([expect.stringMatching(new RegExp(`^tickethub-restore-spool-${child.pid}-`))]);
    const file = await readFile(path.join(dir, left[0], 'archive.spool'));
    expect(file.length).toBe('PLAINTEXT-ROW\n'.length * 100000);
    expect(file.includes('PLAINTEXT')).toBe(false);
    const spool = new ArchiveSpool();
    await buffer(await (await spool.wrap(source())).openArchive());
    expect((await readdir(dir)).filter((d) => d.includes(`-${child.pid}-`))).toEqual([]);
    await spool.dispose();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a whole read stopped early leaves no complete spool: the next read goes to the source again', async () => {
    const src = source();
    const spool = new ArchiveSpool();
    const s = await spool.wrap(src);
    const first = await s.openArchive();
    for await (const _chunk of first) break;
    expect((await buffer(await s.openArchive({ start: 10, end: 20 }))).equals(data.subarray(10, 21))).toBe(true);
    expect(src.wholeReads).toBe(2);
    await spool.dispose();
  });
});
