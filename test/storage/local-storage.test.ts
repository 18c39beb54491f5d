import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../lib/errors';
import { LocalStorage } from '../../lib/storage/local/local-storage';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tickethub-local-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function bytes(n: number): Readable {
  return Readable.from(
    (function* () {
      for (let left = n; left > 0; left -= 65536) yield Buffer.alloc(Math.min(65536, left), 7);
    })(),
  );
}

describe('LocalStorage specifics', () => {
  it('refuses a relative root', () => {
    expect(() => new LocalStorage('relative/dir')).toThrow(/absolute/);
  });

  it('creates the root on first put; list of a missing root is empty', async () => {
    const s = new LocalStorage(path.join(dir, 'new', 'nested', 'root'));
    expect(await s.list()).toEqual([]);
    await s.put('a.sql.gz', bytes(10));
    expect((await readdir(path.join(dir, 'new', 'nested', 'root')))).toEqual(['a.sql.gz']);
    expect(s.location).toBe(`file://${path.join(dir, 'new', 'nested', 'root')}`);
  });

  it('an in-progress temp file and hidden files never show in list', async () => {
    const root = path.join(dir, 'hidden');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, '.b.sql.gz.tmp-abc123'), 'partial');
    await writeFile(path.join(root, 'visible.sql.gz'), 'whole');
    const s = new LocalStorage(root);
    expect((await s.list()).map((o) => o.key)).toEqual(['visible.sql.gz']);
  });

  it('a root below a regular file fails with one line naming the path and cause (fails even as root)', async () => {
    const file = path.join(dir, 'plain-file');
    await writeFile(file, 'x');
    const s = new LocalStorage(path.join(file, 'backups'));
    const err = await failure(s.put('a.sql.gz', bytes(100)));
    expect(err.code).toBe('storage');
    expect(err.message).toBe(`storage ${path.join(file, 'backups')} not usable: a path component is not a directory`);
    const listErr = await failure(s.list());
    expect(listErr.code).toBe('storage');
    expect(listErr.message).toContain(path.join(file, 'backups'));
  });

  it.skipIf(process.getuid?.() === 0)('a read-only directory fails with "not writable: permission denied" (non-root)', async () => {
    const root = path.join(dir, 'ro');
    await mkdir(root);
    await chmod(root, 0o555);
    try {
      const err = await failure(new LocalStorage(root).put('a.sql.gz', bytes(100)));
      expect(err.code).toBe('storage');
      expect(err.message).toMatch(/not writable: permission denied$/);
    } finally {
      await chmod(root, 0o755);
    }
  });

  // Needs mount(2) (root in a container or CI runner); skipped where that is not allowed.
  const mountDir = path.join(os.tmpdir(), `tickethub-mnt-${process.pid}`);
  const canMount = (() => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    try {
      execFileSync('mkdir', ['-p', mountDir]);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountDir], { stdio: 'ignore' });
      execFileSync('umount', [mountDir], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    } finally {
      execFileSync('rmdir', [mountDir], { stdio: 'ignore' });
    }
  })();

  describe.skipIf(!canMount)('on a real small / read-only file system', () => {
    const mounts: string[] = [];
    async function mountTmpfs(opts: string): Promise<string> {
      const m = path.join(dir, `mnt-${mounts.length}`);
      await mkdir(m);
      execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', m]);
      mounts.push(m);
      return m;
    }
    afterAll(() => {
      for (const m of mounts) execFileSync('umount', [m]);
    });

    it('disk full: one clear line, the old object intact, no temp file left', async () => {
      const m = await mountTmpfs('size=1m');
      const s = new LocalStorage(m);
      await s.put('a.sql.gz', bytes(100_000));
      const err = await failure(s.put('a.sql.gz', bytes(3 * 1024 * 1024)));
      expect(err.code).toBe('storage');
      expect(err.message).toBe(`storage ${path.join(m, 'a.sql.gz')} is full: no space left on device`);
      expect(await readdir(m)).toEqual(['a.sql.gz']);
      expect((await s.stat('a.sql.gz')).size).toBe(100_000);
    });

    it('read-only file system: "not writable"', async () => {
      const m = await mountTmpfs('ro,size=1m');
      const err = await failure(new LocalStorage(path.join(m, 'backups')).put('a.sql.gz', bytes(10)));
      expect(err.code).toBe('storage');
      expect(err.message).toBe(`storage ${path.join(m, 'backups')} not writable: read-only file system`);
    });
  });
});
