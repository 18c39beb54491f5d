import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../lib/backup/manifest';
import { manifestKey } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { verifyBackup } from '../../lib/backup/verify';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, tamperMember, tempStorage } from '../backup/restore-test-helpers';

// Issue 7 items 1 and 2: an attacker who can write to the backup storage edits the manifest or a
// member (recomputing every checksum). Restore must never send SQL that came from storage unchecked:
// the COPY statement is built from the validated table name and columns, every member is checked
// against its kind. The injected command would create a file as the database server's OS user
// (postgres can write to /tmp); it must never appear, and the target must stay as it was.
let src: TestDatabase;
const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'tamper' });
  dbs.push(d);
  return d;
}

/** A fresh backup of the source in its own storage directory. */
async function freshBackup(): Promise<{ storage: StorageBackend; dir: string; id: string }> {
  const { storage, dir } = await tempStorage();
  cleanups.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { storage, dir, id: await backup(src.url, storage) };
}

async function editManifest(dir: string, id: string, edit: (m: Manifest) => void): Promise<void> {
  const file = path.join(dir, manifestKey(id));
  const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
  edit(m);
  await writeFile(file, JSON.stringify(m, null, 2));
}

/** A path the server's OS user could create; the injected command would touch it. */
function canary(): string {
  return `/tmp/tickethub-pwned-${randomBytes(6).toString('hex')}`;
}

/**
 * Every way the backup can be used refuses it: verify names the problem; the atomic restore rolls
 * back (target unchanged); --jobs (not atomic, documented) stops at the member and says the target
 * is partly restored. The injected command never runs.
 */
async function expectRefusedEverywhere(storage: StorageBackend, id: string, problem: RegExp, file: string): Promise<void> {
  const v = await verifyBackup(storage, id);
  expect(v.ok).toBe(false);
  expect(v.problems.map((p) => p.problem).join('\n')).toMatch(problem);
  const t = await db();
  await exec(t.url, 'CREATE SCHEMA keep; CREATE TABLE keep.x (n int); INSERT INTO keep.x VALUES (1)');
  const before = await hashesOf(t.url, ['public', 'keep']);
  await expect(restoreBackup({ source: id, storage, targetUrl: t.url, mode: 'replace' })).rejects.toMatchObject({ code: 'corrupt' });
  expect(await hashesOf(t.url, ['public', 'keep'])).toEqual(before);
  const e = await db();
  await expect(restoreBackup({ source: id, storage, targetUrl: e.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/rolled back: target unchanged|nothing was changed|manifest is inconsistent/) });
  expect(await hashesOf(e.url)).toEqual({});
  const p = await db();
  await expect(restoreParallel({ source: id, storage, targetUrl: p.url, jobs: 2 })).rejects.toMatchObject({ code: 'corrupt' });
  expect(existsSync(file)).toBe(false);
}

beforeAll(async () => {
  src = await db();
  await exec(src.url, `CREATE TABLE public.t (a int, b text); INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 20) g;`);
});

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  for (const d of dbs) await d.drop().catch(() => {});
});

describe('a tampered backup never executes', () => {
  it("the manifest's COPY line replaced by COPY ... TO PROGRAM", async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    await editManifest(dir, id, (m) => {
      const e = m.entries.find((x) => x.section === 'table-data')!;
      e.copy = `COPY (SELECT 1) TO PROGRAM 'touch ${file}';`;
    });
    await expectRefusedEverywhere(storage, id, /COPY line is not the COPY line of public\.t/, file);
  });

  it("the member's COPY line AND the manifest's replaced, every checksum recomputed", async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    const evil = `COPY (SELECT 1) TO PROGRAM 'touch ${file}';`;
    await tamperMember(dir, id, (e) => e.section === 'table-data', (text) => text.replace(/^COPY [^\n]*\n/, `${evil}\n`));
    await editManifest(dir, id, (m) => {
      m.entries.find((x) => x.section === 'table-data')!.copy = evil;
    });
    await expectRefusedEverywhere(storage, id, /COPY line/, file);
  });

  it('SQL appended after the \\. terminator (which psql would run), rows and checksums fixed up', async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    // Ends with a terminator again and adds exactly as many lines as the fixed-up row count says.
    const appended = `COPY (SELECT 1) TO PROGRAM 'touch ${file}';\nCOPY "public"."t" ("a", "b") FROM stdin;\n\\.\n`;
    const e = await tamperMember(dir, id, (x) => x.section === 'table-data', (text) => text + appended);
    await editManifest(dir, id, (m) => {
      const entry = m.entries[e.index];
      entry.rows = (entry.rows ?? 0) + 3;
      const t = m.tables.find((x) => x.name === 't')!;
      t.rows += 3;
      m.totals.rows += 3;
    });
    await expectRefusedEverywhere(storage, id, /\\\. line before its end|data after its \\\. terminator/, file);
  });

  it('a header that runs something else than SETs, checksums recomputed', async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    await tamperMember(dir, id, (e) => e.section === 'header', (text) => `${text}COPY (SELECT 1) TO PROGRAM 'touch ${file}';\n`);
    await expectRefusedEverywhere(storage, id, /header holds a statement a header never has/, file);
  });

  it('a sequence-set member with more than setval calls, checksums recomputed', async () => {
    await exec(src.url, 'CREATE SEQUENCE IF NOT EXISTS public.s');
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    await tamperMember(dir, id, (e) => e.section === 'sequence-set', (text) => `${text}COPY (SELECT 1) TO PROGRAM 'touch ${file}';\n`);
    await expectRefusedEverywhere(storage, id, /sequence-set member holds something other than/, file);
  });
});
