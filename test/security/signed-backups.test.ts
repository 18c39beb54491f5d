import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import type { Manifest } from '../../lib/backup/manifest';
import { archiveKey, manifestKey } from '../../lib/backup/manifest';
import { UNSIGNED_WARNING } from '../../lib/backup/manifest-signature';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { verifyBackup } from '../../lib/backup/verify';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tamperMember, tempStorage } from '../backup/restore-test-helpers';

// Issue 7 item 2: with BACKUP_SIGNING_KEY, a backup is signed (HMAC-SHA256 over the manifest, which
// holds every member's hash); any edit of any member with every checksum recomputed, an unsigned
// manifest, or one signed with another key is refused by verify, restore and drills. Without a key
// they all say "unsigned: anyone who can write to the storage can change this backup".
// Issue 7 item 8 (CLI part): show, verify and restore print names and descriptions with control
// characters escaped. (Drills go into a database of this file's own, not a scratch database on the
// shared server, so they cannot disturb other files counting scratch databases.)
const ROOT = path.resolve(import.meta.dirname, '../..');
const KEY_A = 'a'.repeat(24) + '-signing-key-for-tests-0001';
const KEY_B = 'b'.repeat(24) + '-signing-key-for-tests-0002';
const ANSI_TABLE = 'evil\u001b[2J\u001b]0;pwned\u0007name';
const ANSI_DESC = 'nightly \u001b[31mRED\u001b[0m\r\u009b2Jdone';

let src: TestDatabase;
const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'signed' });
  dbs.push(d);
  return d;
}

async function freshBackup(key: string | undefined, description?: string): Promise<{ storage: StorageBackend; dir: string; id: string }> {
  if (key) process.env.BACKUP_SIGNING_KEY = key;
  else delete process.env.BACKUP_SIGNING_KEY;
  const { storage, dir } = await tempStorage();
  cleanups.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { runBackup } = await import('../../lib/backup/run-backup');
  const r = description ? await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', description }) : { id: await backup(src.url, storage) };
  return { storage, dir, id: r.id };
}

async function editManifest(dir: string, id: string, edit: (m: Manifest) => void): Promise<void> {
  const file = path.join(dir, manifestKey(id));
  const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
  edit(m);
  await writeFile(file, JSON.stringify(m, null, 2));
}

/** verify, restore and a drill all refuse the backup, naming the signature; the target is untouched. */
async function expectRefused(storage: StorageBackend, id: string, why: RegExp): Promise<void> {
  const v = await verifyBackup(storage, id);
  expect(v.ok).toBe(false);
  expect(v.problems.filter((p) => p.kind === 'SIGNATURE').map((p) => p.problem).join('\n')).toMatch(why);
  const t = await db();
  await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(why) });
  expect(await hashesOf(t.url)).toEqual({});
  const d = await runDrill({ storage, id, drillUrl: (await db()).url });
  expect(d.ok).toBe(false);
  expect(d.error).toMatch(why);
}

function cli(args: string[], env: Record<string, string | undefined>) {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.DATABASE_URL;
  delete base.BACKUP_STORAGE_URL;
  delete base.BACKUP_SIGNING_KEY;
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env } as NodeJS.ProcessEnv, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  src = await db();
  await exec(src.url, `CREATE TABLE public.t (a int, b text); INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 20) g;`);
});

afterEach(() => {
  delete process.env.BACKUP_SIGNING_KEY;
});

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  for (const d of dbs) await d.drop().catch(() => {});
});

describe('BACKUP_SIGNING_KEY', () => {
  it('signs backups; a signed, unchanged backup verifies, restores and drills with no warning', async () => {
    const { storage, dir, id } = await freshBackup(KEY_A);
    const m = JSON.parse(await readFile(path.join(dir, manifestKey(id)), 'utf8')) as Manifest;
    expect(m.signature).toMatchObject({ algorithm: 'HMAC-SHA256', value: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const v = await verifyBackup(storage, id);
    expect(v).toMatchObject({ ok: true, signature: 'valid', warnings: [] });
    const r = await restoreBackup({ source: id, storage, targetUrl: (await db()).url });
    expect(r.plan.warnings).toEqual([]);
    expect((await runDrill({ storage, id, drillUrl: (await db()).url })).ok).toBe(true);
  });

  it('refuses a member edited with every checksum recomputed', async () => {
    const { storage, dir, id } = await freshBackup(KEY_A);
    await tamperMember(dir, id, (e) => e.section === 'table-data', (text) => text.replace('row 7', 'row X'));
    await expectRefused(storage, id, /signature does not match/);
  });

  it('refuses a DDL member edited with every checksum recomputed', async () => {
    const { storage, dir, id } = await freshBackup(KEY_A);
    await tamperMember(dir, id, (e) => e.kind === 'TABLE', (text) => text.replace('b text', 'b text DEFAULT 1'));
    await expectRefused(storage, id, /signature does not match/);
  });

  it('verify refuses an edit of EVERY member (checksums recomputed), and of a manifest field alone, naming the signature', async () => {
    await exec(src.url, 'CREATE SEQUENCE IF NOT EXISTS public.signed_seq; CREATE INDEX IF NOT EXISTS t_a ON public.t (a)');
    const { storage, dir, id } = await freshBackup(KEY_A);
    const files = [manifestKey(id), archiveKey(id)].map((k) => path.join(dir, k));
    const original = await Promise.all(files.map((f) => readFile(f)));
    const entries = (JSON.parse(original[0].toString('utf8')) as Manifest).entries;
    expect(new Set(entries.map((e) => e.section))).toEqual(new Set(['header', 'pre-data', 'table-data', 'sequence-set', 'post-data']));
    for (let i = 0; i < entries.length; i++) {
      await Promise.all(files.map((f, j) => writeFile(f, original[j])));
      let n = 0;
      await tamperMember(dir, id, () => n++ === i, (text) => `${text}-- edited\n`);
      const v = await verifyBackup(storage, id);
      expect(v.ok, `member #${i} (${entries[i].section} ${entries[i].name})`).toBe(false);
      expect(v.problems.filter((p) => p.kind === 'SIGNATURE').map((p) => p.problem).join('\n'), `member #${i}`).toMatch(/signature does not match/);
    }
    await Promise.all(files.map((f, j) => writeFile(f, original[j])));
    expect((await verifyBackup(storage, id)).ok).toBe(true);
    await editManifest(dir, id, (m) => {
      m.description = 'restored by the usual process';
    });
    const v = await verifyBackup(storage, id);
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'SIGNATURE', problem: expect.stringMatching(/signature does not match/) })]);
  });

  it('refuses a manifest whose signature was removed, and one signed with another key', async () => {
    const a = await freshBackup(KEY_A);
    await editManifest(a.dir, a.id, (m) => delete m.signature);
    await expectRefused(a.storage, a.id, /is not signed, but BACKUP_SIGNING_KEY is set/);
    const b = await freshBackup(KEY_B);
    process.env.BACKUP_SIGNING_KEY = KEY_A;
    await expectRefused(b.storage, b.id, /signed with another key/);
  });

  it('refuses an unsigned backup once a key is configured; without a key every path says it is unsigned', async () => {
    const { storage, id } = await freshBackup(undefined);
    const v = await verifyBackup(storage, id);
    expect(v).toMatchObject({ ok: true, signature: 'unchecked', warnings: [UNSIGNED_WARNING] });
    const r = await restoreBackup({ source: id, storage, targetUrl: (await db()).url });
    expect(r.plan.warnings).toEqual([UNSIGNED_WARNING]);
    expect((await runDrill({ storage, id, drillUrl: (await db()).url })).warnings).toEqual([UNSIGNED_WARNING]);
    process.env.BACKUP_SIGNING_KEY = KEY_A;
    await expectRefused(storage, id, /is not signed, but BACKUP_SIGNING_KEY is set/);
  });

  it('a key shorter than 32 characters is a one-line config error, before any work', async () => {
    process.env.BACKUP_SIGNING_KEY = 'short';
    const { storage } = await tempStorage();
    const { runBackup } = await import('../../lib/backup/run-backup');
    await expect(runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/BACKUP_SIGNING_KEY must be at least 32 characters/) });
    expect(await storage.list()).toEqual([]);
    await storage.close();
  });
});

describe('CLI: unsigned warning and no raw control characters', () => {
  it('show, verify and restore say "unsigned" and print the hostile table name and description escaped', async () => {
    await exec(src.url, `CREATE TABLE public."${ANSI_TABLE.replace(/"/g, '""')}" (x int); INSERT INTO public."${ANSI_TABLE.replace(/"/g, '""')}" VALUES (1)`);
    try {
      const { dir, id } = await freshBackup(undefined, ANSI_DESC);
      const target = await db();
      const runs = [
        cli(['show', id, '--storage', dir], {}),
        cli(['show', id, '--storage', dir, '--json'], {}),
        cli(['verify', id, '--storage', dir], {}),
        cli(['verify', id, '--storage', dir, '--json'], {}),
        cli(['restore', id, '--storage', dir, '--target-url', target.url, '--yes'], {}),
        cli(['restore', id, '--storage', dir, '--target-url', (await db()).url, '--yes', '--json'], {}),
        cli(['restore', id, '--storage', dir, '--target-url', target.url, '--yes', '--mode', 'data-only', '--tables', `public.${ANSI_TABLE}x`], {}),
      ];
      // eslint-disable-next-line no-control-regex -- looking for raw control characters is the point
      for (const r of runs) expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      for (const r of runs.slice(0, 6)) expect(r.stdout + r.stderr).toMatch(/unsigned: anyone who can write to the storage can change this backup/);
      expect(runs.slice(0, 6).every((r) => r.code === 0)).toBe(true);
      expect(runs[0].stdout).toContain('nightly \\e[31mRED\\e[0m\\r\\u{9b}2Jdone');
      expect(runs[0].stdout).toContain('evil\\e[2J\\e]0;pwned\\x07name');
      expect(runs[4].stdout).toContain('evil\\e[2J\\e]0;pwned\\x07name');
      expect(runs[6].code).toBe(1); // unknown table named in the error line: escaped too
      expect(runs[6].stderr).toContain('evil\\e[2J');
    } finally {
      await exec(src.url, `DROP TABLE public."${ANSI_TABLE.replace(/"/g, '""')}"`);
    }
  });
});
