import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';

/**
 * Temporary directories made by tests, removed when their test file ends (afterAll of the setup
 * file test/helpers/temp-dirs.setup.ts, which runs after the file's own afterAll hooks). A file
 * keeps using a directory across its tests; nothing is left in os.tmpdir() afterwards.
 * Vitest isolates every test file, so this set belongs to one file.
 */
const made = new Set<string>();

/** mkdtemp in os.tmpdir() (0700), removed when the test file ends. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}

export function tempDirSync(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Registers a path made another way (e.g. a copy of a temp directory beside it) for removal at file end. */
export function removeAtEnd(p: string): string {
  made.add(p);
  return p;
}

/** Removes every registered directory; the setup file calls it after each test file. */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...made];
  made.clear();
  // maxRetries: a child process (embedded server, CLI) may still be closing files in it.
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })));
}

