import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../lib/backup/list-backups';
import { manifestKey } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from '../backup/restore-test-helpers';

// With BACKUP_SIGNING_KEY set, `list` (and prune/reindex, which read the same listing) must not show
// a manifest that does not carry a valid signature of that key as a good backup: someone who can
// write to the storage could otherwise plant a "newest good backup" (forged description, sizes,
// dates) that looks right until `verify` is run. The listing reads only a manifest's first line.
const ROOT = path.resolve(import.meta.dirname, '../..');
const KEY_A = 'a'.repeat(24) + '-signing-key-for-tests-0001';
const KEY_B = 'b'.repeat(24) + '-signing-key-for-tests-0002';

let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
const ids: Record<string, string> = {};

async function backupWith(key: string, description: string): Promise<string> {
  process.env.BACKUP_SIGNING_KEY = key;
  try {
    return (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', description })).id;
  } finally {
    delete process.env.BACKUP_SIGNING_KEY;
  }
}

/** Rewrites a v3 manifest's first line (its summary), keeping the stored layout. */
async function editFirstLine(id: string, edit: (summary: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, manifestKey(id));
  const text = await readFile(file, 'utf8');
  const nl = text.indexOf('\n');
  expect(text[nl - 1]).toBe(',');
  const summary = JSON.parse(`${text.slice(0, nl - 1)}}`) as Record<string, unknown>;
  edit(summary);
  await writeFile(file, `${JSON.stringify(summary).slice(0, -1)},${text.slice(nl)}`);
}

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'listsig' });
  await exec(src.url, `CREATE TABLE public.t (a int); INSERT INTO public.t SELECT generate_series(1, 10);`);
  ({ storage, dir } = await tempStorage());
  ids.genuine = await backupWith(KEY_A, 'genuine');
  ids.forged = await backupWith(KEY_A, 'nightly');
  await editFirstLine(ids.forged, (s) => {
    s.description = 'FORGED: restore me';
    (s.totals as { rows: number }).rows = 999_999;
  });
  ids.stripped = await backupWith(KEY_A, 'stripped');
  await editFirstLine(ids.stripped, (s) => delete s.signature);
  ids.otherKey = await backupWith(KEY_B, 'other key');
  // Signed before the summary MAC existed: the listing checks the whole manifest instead.
  ids.legacy = await backupWith(KEY_A, 'legacy');
  await editFirstLine(ids.legacy, (s) => delete (s.signature as { summary?: string }).summary);
  // A whole manifest rewritten (pretty-printed: no summary line, the listing parses all of it).
  ids.rewritten = await backupWith(KEY_A, 'rewritten');
  const file = path.join(dir, manifestKey(ids.rewritten));
  const m = JSON.parse(await readFile(file, 'utf8')) as { description: string };
  m.description = 'FORGED whole manifest';
  await writeFile(file, JSON.stringify(m, null, 2));
}, 120_000);

afterEach(() => {
  delete process.env.BACKUP_SIGNING_KEY;
});

afterAll(async () => {
  await storage?.close();
  await src?.drop();
});

describe('list with BACKUP_SIGNING_KEY', () => {
  it('a genuine signed backup is listed as succeeded and signed; forged, unsigned and other-key manifests as untrusted, naming why', async () => {
    process.env.BACKUP_SIGNING_KEY = KEY_A;
    const byId = new Map((await listBackups(storage)).map((b) => [b.id, b]));
    expect(byId.get(ids.genuine)).toMatchObject({ status: 'succeeded', signature: 'signed', description: 'genuine' });
    expect(byId.get(ids.genuine)?.error).toBeUndefined();
    expect(byId.get(ids.legacy)).toMatchObject({ status: 'succeeded', signature: 'signed', description: 'legacy' });
    expect(byId.get(ids.forged)).toMatchObject({ status: 'untrusted', signature: 'bad', error: expect.stringMatching(/signature does not match BACKUP_SIGNING_KEY/) });
    expect(byId.get(ids.stripped)).toMatchObject({ status: 'untrusted', signature: 'unsigned', error: expect.stringMatching(/not signed, but BACKUP_SIGNING_KEY is set/) });
    expect(byId.get(ids.otherKey)).toMatchObject({ status: 'untrusted', signature: 'bad', error: expect.stringMatching(/another key/) });
    expect(byId.get(ids.rewritten)).toMatchObject({ status: 'untrusted', signature: 'bad', error: expect.stringMatching(/signature does not match/) });
  });

  it('without a key nothing can be checked: every readable backup is listed as before (succeeded), with no signature claim', async () => {
    const list = await listBackups(storage);
    expect(list.map((b) => b.status)).toEqual(list.map(() => 'succeeded'));
    expect(list.every((b) => b.signature === undefined)).toBe(true);
  });

  it('CLI list: the forged backup is "untrusted" in the table and in --json', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, BACKUP_SIGNING_KEY: KEY_A };
    delete env.BACKUP_STORAGE_URL;
    const j = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', 'list', '--storage', dir, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(j.status, j.stderr).toBe(0);
    const rows = JSON.parse(j.stdout) as { id: string; status: string; signature?: string }[];
    expect(rows.find((r) => r.id === ids.forged)).toMatchObject({ status: 'untrusted', signature: 'bad' });
    expect(rows.find((r) => r.id === ids.genuine)).toMatchObject({ status: 'succeeded', signature: 'signed' });
    const t = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', 'list', '--storage', dir], { cwd: ROOT, env, encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout.split('\n').find((l) => l.startsWith(ids.forged))).toMatch(/\buntrusted\b/);
    expect(t.stdout.split('\n').find((l) => l.startsWith(ids.genuine))).toMatch(/\bsucceeded\b/);
  }, 60_000);
});
