import { spawn, spawnSync } from 'node:child_process';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveKey, manifestKey } from '../../lib/backup/manifest';
import { binaryCopyWanted } from '../../lib/backup/restore/load-loop';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startS3Server, type TestS3Server } from '../helpers/s3-server';
import { backup, exec, hashesOf, scalar, seedTicketHub, tempStorage } from '../backup/restore-test-helpers';

const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * The COPY into public.big the interrupt tests wait for: the atomic restore sends it as COPY BINARY
 * converted in the CLI process (lib/backup/restore/binary-copy.ts) wherever it has a core to spare,
 * so the process is killed in the middle of that conversion (CLI children inherit this environment).
 */
const COPY_BIG = binaryCopyWanted() ? `'COPY%big%FORMAT binary%'` : `'COPY%big%'`;

/** Async variant: needed when the test process itself serves something the CLI calls (s3rver). */
function cliAsync(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.BACKUP_STORAGE_URL;
  const child = spawn(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function cli(args: string[], env: Record<string, string> = {}) {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.BACKUP_STORAGE_URL;
  const r = spawnSync(process.execPath, ['bin/tickethub-backup.mjs', ...args], { cwd: ROOT, env: { ...base, ...env }, input: '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let src: TestDatabase;
let big: TestDatabase;
let storage: StorageBackend;
let dir: string;
let url: string;
let id: string;
let bigId: string;
const dbs: TestDatabase[] = [];
async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'rcli' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'rcli' });
  dbs.push(src);
  await seedTicketHub(src.url, 300);
  ({ storage, dir, url } = await tempStorage());
  id = await backup(src.url, storage);
  // Big enough that a restore is still loading it when the test kills the process.
  big = await db();
  await exec(big.url, `CREATE TABLE public.big (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.big SELECT g, md5(g::text) || repeat('x', 80) FROM generate_series(1, 1500000) g;`);
  bigId = await backup(big.url, storage);
}, 300_000);

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('tickethub-backup restore / verify', () => {
  it('restores by id in one transaction and says what it verified; --check-content re-reads; --json gives the per-table report', async () => {
    const t = await db();
    const r = cli(['restore', id, '--storage', url, '--target-url', t.url, '--yes']);
    expect(r.stderr).toMatch(/Restore plan: backup /);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ran in one transaction: committed/);
    expect(r.stdout).toMatch(/ok {3}public\.tickets: [\d,]+\/[\d,]+ rows\n/);
    expect(r.stdout).toMatch(/\nverified while loading: every archive member matched its SHA-256 and every table its row count as the server stored it \(COPY\); content not re-read \(--check-content re-reads every table\)\n/);
    const t2 = await db();
    const j = cli(['restore', id, '--storage', url, '--target-url', t2.url, '--yes', '--json', '--check-content']);
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out).toMatchObject({ ok: true, committed: true, atomic: true, mode: 'fresh', checked: { memberSha256: true, rowCounts: true, content: true } });
    expect(out.tables.find((x: { name: string }) => x.name === 'trips').contentMatches).toBe(true);
    const t3 = await db();
    const c = cli(['restore', id, '--storage', url, '--target-url', t3.url, '--yes', '--check-content', '--jobs', '2']);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/ran on 2 connections \(not atomic\): completed/);
    expect(c.stdout).toMatch(/ok {3}public\.tickets: [\d,]+\/[\d,]+ rows, content matches the backup\n/);
    expect(c.stdout).toMatch(/\nverified: every archive member matched its SHA-256, every table its row count as the server stored it, and every table, re-read, matched the content of the backup\n/);
  });

  it('verify --drill restores into the given empty database and passes', async () => {
    const d = await db();
    const r = cli(['verify', id, '--storage', url, '--drill', '--drill-url', d.url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/drill passed: restored into drill database .*; 10 TicketHub tables \+ \d+ system tables, [\d,]+ rows match/);
    const j = cli(['verify', id, '--storage', url, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, verify: { ok: true, archiveSha256Ok: true } });
  });

  it('refuses without --yes when stdin is not a terminal (exit 2), before touching anything', async () => {
    const t = await db();
    const r = cli(['restore', id, '--storage', url, '--target-url', t.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing without --yes/);
    expect(await hashesOf(t.url)).toEqual({});
  });

  it('one clear line and exit 1 for: missing id, unreachable target, conflicting objects, corrupt archive', async () => {
    const t = await db();
    await exec(t.url, 'CREATE TABLE public.mine (x int)');
    let r = cli(['restore', '20200101T000000Z-nosuch1', '--storage', url, '--target-url', t.url, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not found.*nothing was changed/);
    r = cli(['restore', id, '--storage', url, '--target-url', 'postgres://postgres@127.0.0.1:1/none', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to the target/);
    r = cli(['restore', id, '--storage', url, '--target-url', t.url, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not empty: it has table public\.mine/);

    const cdir = `${dir}-corrupt`;
    await cp(dir, cdir, { recursive: true });
    try {
      const f = path.join(cdir, archiveKey(id));
      const buf = await readFile(f);
      const m = JSON.parse(await readFile(path.join(cdir, manifestKey(id)), 'utf8'));
      const victim = m.entries.find((e: { kind: string; name: string }) => e.kind === 'TABLE DATA' && e.name === 'tickets');
      buf[victim.offset + Math.floor(victim.length / 2)] ^= 0x04;
      await writeFile(f, buf);
      const v = cli(['verify', id, '--storage', `file://${cdir}`]);
      expect(v.code).toBe(1);
      expect(v.stderr).toMatch(new RegExp(`TABLE DATA public\\.tickets \\(#${victim.index}\\): `));
      const e = await db();
      r = cli(['restore', id, '--storage', `file://${cdir}`, '--target-url', e.url, '--yes']);
      expect(r.code).toBe(1);
      // The archive's SHA-256 is read beside the load (which it stops) and gates the COMMIT.
      expect(r.stderr).toMatch(/archive SHA-256 does not match the manifest.*rolled back: target unchanged/);
      expect(await hashesOf(e.url)).toEqual({});
    } finally {
      await rm(cdir, { recursive: true, force: true });
    }
    const ok = cli(['verify', id, '--storage', url]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/verified: archive SHA-256 ok/);
  });

  it('restores from a downloaded archive file; without its manifest it refuses', async () => {
    const fdir = `${dir}-file`;
    await cp(dir, fdir, { recursive: true });
    try {
      const t = await db();
      const r = cli(['restore', path.join(fdir, archiveKey(id)), '--target-url', t.url, '--yes']);
      expect(r.code).toBe(0);
      expect(await hashesOf(t.url)).toEqual(await hashesOf((await restoredFromStore()).url));
      await rm(path.join(fdir, manifestKey(id)));
      const t2 = await db();
      const n = cli(['restore', path.join(fdir, archiveKey(id)), '--target-url', t2.url, '--yes']);
      expect(n.code).toBe(1);
      expect(n.stderr).toMatch(/no manifest beside it.*pass --force/);
      expect(await hashesOf(t2.url)).toEqual({});
      // --force: loaded as the plain script it is, in one transaction, nothing verified.
      const f = cli(['restore', path.join(fdir, archiveKey(id)), '--target-url', t2.url, '--yes', '--force']);
      expect(f.code).toBe(0);
      expect(f.stdout).toMatch(/ran in one transaction: committed/);
      expect(f.stdout).toMatch(/not checked/);
      expect(await hashesOf(t2.url)).toEqual(await hashesOf(t.url));
    } finally {
      await rm(fdir, { recursive: true, force: true });
    }
  });

  it('restores from S3 storage (s3rver)', async () => {
    let s3: TestS3Server | undefined;
    try {
      s3 = await startS3Server();
      Object.assign(process.env, s3.env);
      const st = openStorage(s3.url);
      const sid = await backup(src.url, st);
      await st.close();
      const t = await db();
      const r = await cliAsync(['restore', sid, '--storage', s3.url, '--target-url', t.url, '--yes'], s3.env);
      expect(r.stderr).toMatch(/Restore plan/);
      expect(r.code).toBe(0);
      expect(await scalar(t.url, 'SELECT count(*)::int FROM public.tickets')).toBe(await scalar(src.url, 'SELECT count(*)::int FROM public.tickets'));
      const v = await cliAsync(['verify', sid, '--storage', s3.url], s3.env);
      expect(v.code).toBe(0);
    } finally {
      await s3?.stop();
    }
  });

  it('a restore killed with SIGKILL mid-load leaves the target exactly as before', async () => {
    const t = await db();
    // A target with data of its own, replaced by the big backup: killing must keep the old state.
    await exec(t.url, `CREATE TABLE public.big (id bigint PRIMARY KEY, payload text); INSERT INTO public.big VALUES (1, 'before'); CREATE TABLE public.other (n int); INSERT INTO public.other VALUES (42);`);
    const before = await hashesOf(t.url);
    const base = { ...process.env };
    delete base.DATABASE_URL;
    const child = spawn(process.execPath, ['bin/tickethub-backup.mjs', 'restore', bigId, '--storage', url, '--target-url', t.url, '--mode', 'replace', '--yes'], { cwd: ROOT, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? -1 : code)));
    // Wait until the restore's COPY into big is running and has loaded some rows.
    const deadline = Date.now() + 60_000;
    let copying = false;
    while (Date.now() < deadline && !copying) {
      copying = (await scalar<number>(t.url, `SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'tickethub-restore' AND query LIKE ${COPY_BIG}`)) > 0;
      if (!copying) await new Promise((r) => setTimeout(r, 50));
    }
    expect(copying).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    expect(await exited).toBe(-1);
    // The server notices the dead connection and aborts the open transaction.
    for (let i = 0; i < 200; i++) {
      if ((await scalar<number>(t.url, `SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'tickethub-restore'`)) === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await hashesOf(t.url)).toEqual(before);
    expect(await scalar(t.url, `SELECT payload FROM public.big`)).toBe('before');
  });
});

describe('tickethub-backup restore interrupted', () => {
  it('Ctrl-C (SIGINT) mid-load rolls back, says so, exits 1 and leaves the target unchanged', async () => {
    const t = await db();
    await exec(t.url, `CREATE TABLE public.big (id bigint PRIMARY KEY, payload text); INSERT INTO public.big VALUES (7, 'mine');`);
    const before = await hashesOf(t.url);
    const base = { ...process.env };
    delete base.DATABASE_URL;
    const child = spawn(process.execPath, ['bin/tickethub-backup.mjs', 'restore', bigId, '--storage', url, '--target-url', t.url, '--mode', 'replace', '--yes'], { cwd: ROOT, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    let copying = false;
    while (Date.now() < deadline && !copying) {
      copying = (await scalar<number>(t.url, `SELECT count(*)::int FROM pg_stat_activity WHERE application_name = 'tickethub-restore' AND query LIKE ${COPY_BIG}`)) > 0;
      if (!copying) await new Promise((r) => setTimeout(r, 50));
    }
    expect(copying).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/restore interrupted — rolled back: target unchanged/);
    expect(await hashesOf(t.url)).toEqual(before);
  });
});

/** A reference restore of `id` through the API (for comparing CLI results). */
let reference: TestDatabase | undefined;
async function restoredFromStore(): Promise<TestDatabase> {
  if (reference) return reference;
  const { restoreBackup } = await import('../../lib/backup/restore/restore-backup');
  reference = await db();
  await restoreBackup({ source: id, storage, targetUrl: reference.url });
  return reference;
}
