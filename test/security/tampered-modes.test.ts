import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { RestoreOptions } from '../../lib/backup/restore/restore-types';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tamperMember, tempStorage } from '../backup/restore-test-helpers';

// tampered-archive.test.ts proves a tampered member (checksums recomputed) is refused by verify, the
// fresh/atomic restore and --jobs. The other restore modes build their own plans (replace drops and
// recreates, data-only empties and reloads chosen tables, into-schema rewrites COPY lines to a new
// schema): each must refuse the same archives before anything runs — the injected command never
// runs (its canary file never appears) and the live target keeps every row — with and without
// BACKUP_SIGNING_KEY.
let src: TestDatabase;
let target: TestDatabase;
const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];
const KEY = 'k'.repeat(24) + '-signing-key-for-tests-0003';

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'tampmode' });
  dbs.push(d);
  return d;
}

function canary(): string {
  return `/tmp/tickethub-pwned-${randomBytes(6).toString('hex')}`;
}

const run = (file: string) => `COPY (SELECT 1) TO PROGRAM 'touch ${file}';`;

type Tamper = { name: string; pick: (e: ManifestEntry) => boolean; edit: (text: string, file: string) => string; problem: RegExp };

const TAMPERS: Tamper[] = [
  {
    name: "table-data member of t whose COPY line loads u (the live table) instead",
    pick: (e) => e.section === 'table-data' && e.name === 't',
    edit: (text) => text.replace(/^COPY "public"\."t" \("a", "b"\)/m, 'COPY "public"."u" ("a", "b")'),
    problem: /COPY line/,
  },
  {
    name: 'table-data member whose COPY line is COPY ... FROM PROGRAM',
    pick: (e) => e.section === 'table-data' && e.name === 't',
    edit: (text, file) => text.replace(/^COPY [^\n]*\n/, `COPY "public"."t" ("a", "b") FROM PROGRAM 'touch ${file}';\n`),
    problem: /COPY line/,
  },
  {
    name: 'SQL appended after the \\. terminator',
    pick: (e) => e.section === 'table-data' && e.name === 't',
    edit: (text, file) => `${text}${run(file)}\n`,
    problem: /\\\. line before its end|data after its \\\. terminator/,
  },
  {
    name: 'a sequence-set member carrying other SQL',
    pick: (e) => e.section === 'sequence-set',
    edit: (text, file) => `${text}${run(file)}\n`,
    problem: /sequence-set member holds something other than/,
  },
  {
    name: 'a schema (pre-data) member with a psql \\! meta-command',
    pick: (e) => e.section === 'pre-data' && e.kind === 'TABLE' && e.name === 't',
    edit: (text, file) => `${text}\n\\! touch ${file}\n`,
    problem: /backslash outside quotes/,
  },
];

const MODES: { name: string; opts: Partial<RestoreOptions> }[] = [
  { name: 'replace', opts: { mode: 'replace' } },
  { name: 'data-only', opts: { mode: 'data-only', tables: ['t', 'u'] } },
  { name: 'data-only --tables t', opts: { mode: 'data-only', tables: ['t'] } },
  { name: 'into-schema', opts: { intoSchema: 'side', tables: ['t', 'u'] } },
];

/** A storage in its own temp directory, removed after the file. */
async function freshStorage(): Promise<{ storage: StorageBackend; dir: string }> {
  const { storage, dir } = await tempStorage();
  cleanups.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { storage, dir };
}

async function tamperedBackup(t: Tamper, file: string): Promise<{ storage: StorageBackend; id: string }> {
  const { storage, dir } = await freshStorage();
  const id = await backup(src.url, storage);
  await tamperMember(dir, id, t.pick, (text) => t.edit(text, file));
  return { storage, id };
}

async function expectRefusedInEveryMode(t: Tamper): Promise<void> {
  const file = canary();
  const { storage, id } = await tamperedBackup(t, file);
  for (const m of MODES) {
    const before = await hashesOf(target.url, ['public', 'side']);
    // The refusal names the member's problem (not a by-effect of stopping its read).
    await expect(restoreBackup({ source: id, storage, targetUrl: target.url, ...m.opts }), m.name).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(t.problem) });
    expect(await hashesOf(target.url, ['public', 'side']), m.name).toEqual(before);
    expect(existsSync(file), m.name).toBe(false);
  }
}

beforeAll(async () => {
  src = await db();
  const schema = `CREATE TABLE public.t (a int, b text); CREATE TABLE public.u (a int, b text); CREATE SEQUENCE public.s;`;
  await exec(src.url, `${schema} INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 20) g; INSERT INTO public.u VALUES (1, 'u'); SELECT setval('public.s', 5);`);
  target = await db();
  await exec(target.url, `${schema} INSERT INTO public.t VALUES (100, 'live t'); INSERT INTO public.u SELECT g, 'live u ' || g FROM generate_series(1, 7) g;`);
});

afterEach(() => {
  delete process.env.BACKUP_SIGNING_KEY;
});

afterAll(async () => {
  delete process.env.BACKUP_SIGNING_KEY;
  for (const c of cleanups) await c().catch(() => {});
  for (const d of dbs) await d.drop().catch(() => {});
});

describe('a tampered backup is refused by replace, data-only and into-schema', () => {
  it('the untampered backup restores in every mode (the refusals below are about the tampering)', async () => {
    const { storage } = await freshStorage();
    const id = await backup(src.url, storage);
    const scratch = await db();
    await exec(scratch.url, 'CREATE TABLE public.t (a int, b text); CREATE TABLE public.u (a int, b text); CREATE SEQUENCE public.s;');
    for (const m of MODES) await expect(restoreBackup({ source: id, storage, targetUrl: scratch.url, ...m.opts }), m.name).resolves.toMatchObject({ committed: true });
  });

  for (const t of TAMPERS) {
    it(`${t.name}, checksums recomputed`, async () => {
      await expectRefusedInEveryMode(t);
    });
  }

  it('with BACKUP_SIGNING_KEY: an edited member with checksums recomputed is refused naming the signature', async () => {
    process.env.BACKUP_SIGNING_KEY = KEY;
    const { storage, dir } = await freshStorage();
    const id = await backup(src.url, storage);
    // A harmless edit a kind check cannot catch: only the signature can.
    await tamperMember(dir, id, (e) => e.section === 'table-data' && e.name === 't', (text) => text.replace('row 1\n', 'row X\n'));
    for (const m of MODES) {
      const before = await hashesOf(target.url, ['public', 'side']);
      await expect(restoreBackup({ source: id, storage, targetUrl: target.url, ...m.opts }), m.name).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/signature does not match/) });
      expect(await hashesOf(target.url, ['public', 'side']), m.name).toEqual(before);
    }
  });
});
