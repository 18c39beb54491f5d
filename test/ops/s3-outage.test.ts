import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../lib/backup/list-backups';
import { S3Storage } from '../../lib/storage/s3/s3-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { startS3Server } from '../helpers/s3-server';
import { tempDir } from '../helpers/temp-dirs';
import type { TestS3Server } from '../helpers/s3-server';

/**
 * Issue 7, item 5: the S3 endpoint goes away during a backup's upload and during its read-back
 * check (deterministically: the server holds a chosen request, then is killed), comes back on the
 * same port with the same data, and every view of every run must agree: the CLI's exit and
 * message, the backup_runs row, `list`. A backup is good only if its manifest exists AND it
 * verified; what a failed run could not clean up is visible meanwhile and gone after the next run
 * (no incomplete multipart upload, no orphan archive).
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/tickethub-backup.mjs');

let db: TestDatabase;
let s3: TestS3Server;
let prefix: string;
let childTmp: string;

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function startCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // TMPDIR of its own: a run killed mid-backup cannot remove its spool directory; this file's temp dir goes at its end.
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...s3.env, TMPDIR: childTmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const backup = () => startCli(['backup', '--database-url', db.url, '--storage', s3.url, '--json']);

interface RunRow {
  id: string;
  status: string;
  error: string | null;
}
const runRows = () => withClient(db.url, async (c) => (await c.query(`SELECT id, status, error FROM public.backup_runs ORDER BY started_at, id`)).rows as RunRow[]);
const newestRow = async () => (await runRows()).at(-1)!;

/** `list --json`; `pendingNote` is its stderr (the unfinished-uploads note, '' when none). */
async function cliListWithNote(): Promise<{ backups: { id: string; status: string }[]; pendingNote: string }> {
  const r = await startCli(['list', '--storage', s3.url, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return { backups: JSON.parse(r.stdout), pendingNote: r.stderr };
}
const cliList = async () => (await cliListWithNote()).backups;

/** Runs fn on the bucket through the product's storage. */
async function withStorage<T>(fn: (storage: S3Storage) => Promise<T>): Promise<T> {
  const { pathname } = new URL(s3.url);
  const storage = new S3Storage({
    bucket: s3.bucket,
    prefix: pathname.slice(1),
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

const storedKeys = () => withStorage(async (s) => (await s.list()).map((o) => o.key));
const libraryList = () => withStorage(async (s) => (await listBackups(s)).map((b) => ({ id: b.id, status: b.status })));

/** Waits for the held request; a backup that ends first (the hold never came) fails the test at once. */
async function heldOrFail<T>(held: Promise<T>, run: Promise<CliRun>): Promise<T> {
  return Promise.race([
    held,
    run.then((r) => {
      throw new Error(`the backup ended (exit ${r.code}) before the S3 request to hold: ${r.stderr}${r.stdout}`);
    }),
  ]);
}

/** The CLI's failure line without its 'tickethub-backup backup: ' prefix. */
function failureMessage(r: CliRun): string {
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tickethub-backup backup: /);
  return lines[0].replace(/^tickethub-backup backup: /, '');
}

/** One truth about every run: `list` (CLI and library), backup_runs and the CLI's results agree. */
async function expectAllViewsAgree(results: Map<string, CliRun>): Promise<void> {
  const rows = await runRows();
  const listed = await cliList();
  expect(await libraryList()).toEqual(listed.map((b) => ({ id: b.id, status: b.status })));
  const listedStatus = new Map(listed.map((b) => [b.id, b.status]));
  for (const row of rows) {
    const cli = results.get(row.id);
    expect(cli, `run ${row.id} was started by this test`).toBeDefined();
    if (row.status === 'succeeded') {
      expect(cli!.code).toBe(0);
      expect(JSON.parse(cli!.stdout)).toMatchObject({ id: row.id, status: 'succeeded', verified: true });
      expect(listedStatus.get(row.id)).toBe('succeeded');
    } else {
      expect(row.status).toBe('failed');
      expect(cli!.code).not.toBe(0);
      expect(cli!.stdout).toBe('');
      expect(failureMessage(cli!)).toBe(row.error);
      // Never shown as a backup: absent, or an archive without a manifest ('incomplete'); except a
      // manifest whose upload's answer was lost, until the next run removes it.
      if (!pendingRemoval.has(row.id)) expect([undefined, 'incomplete']).toContain(listedStatus.get(row.id));
    }
  }
  // Nothing is listed as good that the database does not know as good.
  const good = new Set(rows.filter((r) => r.status === 'succeeded').map((r) => r.id));
  for (const b of listed) if (b.status === 'succeeded' && !pendingRemoval.has(b.id)) expect(good.has(b.id), `list shows ${b.id} succeeded`).toBe(true);
}

const results = new Map<string, CliRun>();
/** Failed runs whose manifest reached storage: listed until the next run removes them. */
const pendingRemoval = new Set<string>();

beforeAll(async () => {
  childTmp = await tempDir('s3-outage-');
  db = await createTestDatabase({ migrate: true, prefix: 's3out' });
  // More than one 8 MiB multipart part once compressed: the archive goes up as a multipart upload.
  await withClient(db.url, (c) =>
    c.query(`CREATE TABLE public.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5(random()::text) AS a, md5(random()::text) AS b
             FROM generate_series(1, 300000) g`),
  );
  s3 = await startS3Server();
  prefix = new URL(s3.url).pathname.slice(1);
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  await db?.drop();
});

describe('S3 outage during a backup', () => {
  it('killed during the upload: the run fails naming the storage error, nothing is listed as a backup, the stray multipart upload waits for the next run', async () => {
    const held = s3.holdRequest((r) => r.method === 'PUT' && 'partNumber' in r.query && r.key.endsWith('.sql.gz'));
    const run = backup();
    const req = await heldOrFail(held, run);
    await s3.kill();
    const r = await run;
    await s3.restart();
    const row = await newestRow();
    results.set(row.id, r);
    expect(req.key).toBe(`${prefix}/${row.id}.sql.gz`);

    expect(r.code).not.toBe(0);
    const message = failureMessage(r);
    expect(message).toMatch(/storage .*unreachable|storage .*upload failed/);
    expect(message).not.toMatch(/did not verify|succeeded/);
    // What it could not remove (storage was down) is said, not hidden.
    expect(message).toMatch(/the next backup removes what this run left/);
    expect(row).toMatchObject({ status: 'failed', error: message });
    // The outage left a multipart upload behind: the case the next run must clean.
    expect(await s3.incompleteUploads()).toContain(`${prefix}/${row.id}.sql.gz`);
    await expectAllViewsAgree(results);
    // Not a backup, but shown meanwhile: list names the unfinished upload.
    const l = await cliListWithNote();
    expect(l.backups.map((b) => b.id)).not.toContain(row.id);
    expect(l.pendingNote).toContain(`1 unfinished upload(s) in storage (${row.id}.sql.gz)`);
  }, 180_000);

  it('killed during the read-back check: the run fails with the storage error (not "did not verify"), its archive is listed as incomplete, never as a backup', async () => {
    // The archive's first MiB reaches the checker, then the server goes away mid-download.
    const held = s3.holdRequest((r) => r.method === 'GET' && r.key.endsWith('.sql.gz'), { afterBodyBytes: 1 << 20 });
    const run = backup();
    const req = await heldOrFail(held, run);
    await s3.kill();
    const r = await run;
    await s3.restart();
    const row = await newestRow();
    results.set(row.id, r);
    expect(req.key).toBe(`${prefix}/${row.id}.sql.gz`);

    expect(r.code).not.toBe(0);
    const message = failureMessage(r);
    expect(message).toMatch(/^storage failed during the read-back check: /);
    expect(message).not.toMatch(/did not verify/);
    expect(message).toMatch(/the next backup removes what this run left/);
    expect(row).toMatchObject({ status: 'failed', error: message });
    // The uploaded archive could not be deleted while storage was down: visible as incomplete.
    expect(await storedKeys()).toContain(`${row.id}.sql.gz`);
    expect(await storedKeys()).not.toContain(`${row.id}.manifest.json`);
    expect((await cliList()).find((b) => b.id === row.id)?.status).toBe('incomplete');
    await expectAllViewsAgree(results);
  }, 180_000);

  it('killed after storing the manifest, before answering: the run fails; list shows the backup until the next run removes it (the failed run says so)', async () => {
    const held = s3.holdRequest((r) => r.method === 'PUT' && r.key.endsWith('.manifest.json'), { afterHandled: true });
    const run = backup();
    const req = await heldOrFail(held, run);
    await s3.kill();
    const r = await run;
    await s3.restart();
    const row = await newestRow();
    results.set(row.id, r);
    expect(req.key).toBe(`${prefix}/${row.id}.manifest.json`);

    expect(r.code).not.toBe(0);
    const message = failureMessage(r);
    expect(message).toMatch(/^storage .*unreachable|^storage .*upload failed/);
    expect(message).toMatch(/the next backup removes what this run left\)$/);
    expect(row).toMatchObject({ status: 'failed', error: message });
    // The one window where storage alone cannot know better: the manifest arrived. The failed
    // run's row says that it is to be removed; the next run does (below).
    expect(await storedKeys()).toEqual(expect.arrayContaining([`${row.id}.manifest.json`, `${row.id}.sql.gz`]));
    pendingRemoval.add(row.id);
    await expectAllViewsAgree(results);
  }, 180_000);

  it('the next successful run removes the stray multipart upload and the orphan archive; every view agrees on every run', async () => {
    const failed = (await runRows()).filter((x) => x.status === 'failed').map((x) => x.id);
    expect(failed).toHaveLength(3);
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; status: string };
    results.set(out.id, r);
    expect(await newestRow()).toMatchObject({ id: out.id, status: 'succeeded' });

    expect(await s3.incompleteUploads()).toEqual([]);
    // Only the good backup's archive and manifest are left in storage.
    expect((await storedKeys()).sort()).toEqual([`${out.id}.manifest.json`, `${out.id}.sql.gz`]);
    expect(await cliListWithNote()).toEqual({ backups: [expect.objectContaining({ id: out.id, status: 'succeeded' })], pendingNote: '' });
    pendingRemoval.clear();
    await expectAllViewsAgree(results);
  }, 180_000);
});
