import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveKey } from '../../lib/backup/manifest';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, dropDatabase, urlFor, withClient, type TestDatabase } from '../helpers/db';
import { backup, hashesOf, seedTicketHub, tempStorage } from '../backup/restore-test-helpers';

// `restore --create` (issue 12): restore a backup into a NEW database and look at it.

const ROOT = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string> = {}) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.BACKUP_STORAGE_URL;
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env }, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function databaseExists(name: string): Promise<boolean> {
  return withClient(urlFor('postgres'), async (c) => Boolean((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount));
}

let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let url: string;
let id: string;
/** The source as the backup saw it (the backup itself then logs an activity row and a backup_runs row). */
let expected: Awaited<ReturnType<typeof hashesOf>>;
const created: string[] = [];
/** A database name nobody uses, with a space and Amharic in it (quoting must hold). */
function newName(): string {
  const n = `restored ቲኬት ${randomBytes(4).toString('hex')}`;
  created.push(n);
  return n;
}

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'rcreate' });
  await seedTicketHub(src.url, 200);
  ({ storage, dir, url } = await tempStorage());
  expected = await hashesOf(src.url);
  id = await backup(src.url, storage);
}, 300_000);

afterAll(async () => {
  for (const n of created) await dropDatabase(n.replace(/"/g, '""'));
  await storage?.close();
  await src?.drop();
});

describe('restore --create', () => {
  it('creates the target database and restores into it exactly; a second --create on it refuses with one line and changes nothing', async () => {
    const name = newName();
    const target = urlFor(name);
    expect(await databaseExists(name)).toBe(false);
    const r = cli(['restore', id, '--storage', url, '--target-url', target, '--create', '--yes']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(await hashesOf(target)).toEqual(expected);
    // Labelled counts: the backup holds the app's own tables too (issue 12).
    expect(r.stdout).toMatch(/\n10 TicketHub tables \+ \d+ system tables, [\d,]+ rows match the manifest\n/);
    // The backup was made without BACKUP_SIGNING_KEY: the restore ends by saying so (issue 7).
    expect(r.stdout).toMatch(/\nwarning: unsigned: anyone who can write to the storage can change this backup\n$/);

    await withClient(target, (c) => c.query('CREATE TABLE public.marker_after_restore (x int); INSERT INTO public.marker_after_restore VALUES (42)'));
    const before = await hashesOf(target);
    expect(before["public.marker_after_restore"]?.rows).toBe(1);
    const again = cli(['restore', id, '--storage', url, '--target-url', target, '--create', '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr.trim()).toBe(`tickethub-backup restore: database ${JSON.stringify(name)} already exists on ${new URL(target).host}: --create makes a new database only (choose another name, or restore into it without --create) — nothing was changed`);
    expect(await hashesOf(target)).toEqual(before);
  });

  it('--target-db names the new database on the default server (DATABASE_URL here, the embedded one without it)', async () => {
    const name = newName();
    const r = cli(['restore', id, '--storage', url, '--target-db', name, '--create', '--yes', '--json'], { DATABASE_URL: src.url });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, id, committed: true });
    expect(await hashesOf(urlFor(name))).toEqual(expected);
  });

  it('a restore that fails after --create leaves no database behind', async () => {
    const name = newName();
    // A corrupt archive: the restore fails while loading, inside its transaction.
    const archive = path.join(dir, archiveKey(id));
    const good = await readFile(archive);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    await writeFile(archive, bad);
    try {
      const r = cli(['restore', id, '--storage', url, '--target-url', urlFor(name), '--create', '--yes']);
      expect(r.code).toBe(1);
      // The plan (printed before the load starts), then the error in one line.
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^Restore plan: /);
      expect(lines.filter((l) => l.startsWith('tickethub-backup restore:'))).toEqual([lines.at(-1)]);
      expect(lines.at(-1)).toMatch(/archive SHA-256 does not match the manifest.*rolled back: target unchanged$/);
    } finally {
      await writeFile(archive, good);
    }
    expect(await databaseExists(name)).toBe(false);

    const missing = cli(['restore', 'no-such-backup', '--storage', url, '--target-url', urlFor(name), '--create', '--yes']);
    expect(missing.code).not.toBe(0);
    expect(await databaseExists(name)).toBe(false);
  });

  it('refuses --create with modes that need an existing database, and --target-db with --target-url (exit 2, nothing created)', async () => {
    const name = newName();
    const replace = cli(['restore', id, '--storage', url, '--target-url', urlFor(name), '--create', '--mode', 'replace', '--yes']);
    expect(replace.code).toBe(2);
    expect(replace.stderr.trim()).toMatch(/^tickethub-backup restore: --create makes a new, empty database: only for fresh restores/);
    const both = cli(['restore', id, '--storage', url, '--target-url', urlFor(name), '--target-db', name, '--create', '--yes']);
    expect(both.code).toBe(2);
    expect(await databaseExists(name)).toBe(false);
  });
});
