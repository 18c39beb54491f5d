import { existsSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { holdScratch, runDrill } from '../../lib/backup/drill';
import type { Manifest } from '../../lib/backup/manifest';
import { archiveKey, manifestKey, physicalMembers } from '../../lib/backup/manifest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { verifyBackup } from '../../lib/backup/verify';
import { listBackups } from '../../lib/backup/list-backups';
import { reindex } from '../../lib/backup/reindex';
import { openStorage } from '../../lib/storage/open-storage';
import { startS3Server } from '../helpers/s3-server';
import { pruneBackups, RETENTION_DEFAULTS } from '../../lib/backup/prune';
import { backupExportSource } from '../../lib/queries/backup-export-source';
import { openTableExport } from '../../lib/queries/table-export';
import pg from 'pg';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, withClient, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tamperMember, tempStorage } from '../backup/restore-test-helpers';

// Hostile storage, round 2 (issue 7): an attacker who can write to the backup storage, through the
// paths the first round's tests did not take. Every refusal is one line naming the cause; nothing
// from storage runs on any database (the canary file the injected command would create never
// appears) and targets stay unchanged.
const KEY_A = 'h'.repeat(24) + '-signing-key-for-hostile-01';

let src: TestDatabase;
const dbs: TestDatabase[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'hostile' });
  dbs.push(d);
  return d;
}

async function freshStorage(): Promise<{ storage: StorageBackend; dir: string }> {
  const { storage, dir } = await tempStorage();
  cleanups.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { storage, dir };
}

async function freshBackup(key?: string): Promise<{ storage: StorageBackend; dir: string; id: string }> {
  if (key) process.env.BACKUP_SIGNING_KEY = key;
  else delete process.env.BACKUP_SIGNING_KEY;
  const { storage, dir } = await freshStorage();
  return { storage, dir, id: await backup(src.url, storage) };
}

async function editManifest(dir: string, id: string, edit: (m: Manifest) => void): Promise<void> {
  const file = path.join(dir, manifestKey(id));
  const m = JSON.parse(await readFile(file, 'utf8')) as Manifest;
  edit(m);
  await writeFile(file, JSON.stringify(m));
}

function canary(): string {
  return `/tmp/tickethub-pwned-${randomBytes(6).toString('hex')}`;
}

beforeAll(async () => {
  src = await db();
  await exec(src.url, `CREATE TABLE public.t (a int, b text); INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 20) g;`);
});

afterEach(() => {
  delete process.env.BACKUP_SIGNING_KEY;
});

afterAll(async () => {
  await exec(src.url, 'DROP ROLE IF EXISTS hostile_drill_role_x').catch(() => {});
  for (const c of cleanups) await c().catch(() => {});
  for (const d of dbs) await d.drop().catch(() => {});
});

describe('drills never run SQL from the manifest', () => {
  const evilDeps = (file: string) => [
    { kind: 'function', name: 'auth.uid()', schema: 'auth', usedBy: ['policy p on public.t'], definition: `COPY (SELECT 1) TO PROGRAM 'touch ${file}';\n` },
  ];

  it('an externalDependencies definition that is not a CREATE of its kind is refused before anything runs (no key)', async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    await editManifest(dir, id, (m) => {
      m.externalDependencies = evilDeps(file);
    });
    const target = await db();
    const d = await runDrill({ storage, id, drillUrl: target.url });
    expect(d.ok).toBe(false);
    expect(d.error).toMatch(/auth\.uid\(\)/);
    expect(existsSync(file)).toBe(false);
    expect(await scalar(target.url, `SELECT count(*)::int FROM pg_namespace WHERE nspname = 'auth'`)).toBe(0);
  });

  it('a CREATE FUNCTION definition with a second statement after it is refused', async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    await editManifest(dir, id, (m) => {
      m.externalDependencies = [
        {
          kind: 'function',
          name: 'auth.uid()',
          schema: 'auth',
          usedBy: ['policy p on public.t'],
          definition: `CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql AS $f$ SELECT NULL::uuid $f$; COPY (SELECT 1) TO PROGRAM 'touch ${file}';\n`,
        },
        { kind: 'table', name: 'auth.users', schema: 'auth', usedBy: ['fk on public.t'], definition: `CREATE TABLE auth.users (id) AS SELECT 1 FROM (SELECT pg_catalog.pg_ls_dir('/tmp')) x;\n` },
      ];
    });
    const target = await db();
    const d = await runDrill({ storage, id, drillUrl: target.url });
    expect(d.ok).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(await scalar(target.url, `SELECT count(*)::int FROM pg_namespace WHERE nspname = 'auth'`)).toBe(0);
  });

  it('with BACKUP_SIGNING_KEY, a manifest whose dependencies were edited is refused by its signature before anything runs', async () => {
    const { storage, dir, id } = await freshBackup(KEY_A);
    const file = canary();
    await editManifest(dir, id, (m) => {
      m.externalDependencies = evilDeps(file);
      m.roles = { owners: ['hostile_drill_role_x'], privileges: [], defaultPrivileges: [], policies: [] };
    });
    const target = await db();
    const d = await runDrill({ storage, id, drillUrl: target.url, createRoles: true });
    expect(d.ok).toBe(false);
    expect(d.error).toMatch(/signature does not match/);
    expect(existsSync(file)).toBe(false);
    expect(await scalar(target.url, `SELECT count(*)::int FROM pg_roles WHERE rolname = 'hostile_drill_role_x'`)).toBe(0);
  });
});

describe('a backup put in place of another', () => {
  it("another backup's signed manifest and archive stored under this id: refused by verify, restore and drill", async () => {
    const a = await freshBackup(KEY_A);
    await exec(src.url, `INSERT INTO public.t VALUES (999, 'later')`);
    const b = await freshBackup(KEY_A);
    try {
      // b's files (validly signed) replace a's: restoring "a" must not silently restore b.
      await copyFile(path.join(b.dir, manifestKey(b.id)), path.join(a.dir, manifestKey(a.id)));
      await copyFile(path.join(b.dir, archiveKey(b.id)), path.join(a.dir, archiveKey(a.id)));
      const v = await verifyBackup(a.storage, a.id);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.problem).join('\n')).toMatch(new RegExp(`manifest is for backup ${b.id}`));
      const t = await db();
      await expect(restoreBackup({ source: a.id, storage: a.storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(new RegExp(`is for backup ${b.id}`)) });
      expect(await hashesOf(t.url)).toEqual({});
      const p = await db();
      await expect(restoreParallel({ source: a.id, storage: a.storage, targetUrl: p.url, jobs: 2 })).rejects.toMatchObject({ code: 'corrupt' });
      expect(await hashesOf(p.url)).toEqual({});
      const d = await runDrill({ storage: a.storage, id: a.id, drillUrl: (await db()).url });
      expect(d.ok).toBe(false);
      expect(d.error).toMatch(new RegExp(`is for backup ${b.id}`));
    } finally {
      await exec(src.url, `DELETE FROM public.t WHERE a = 999`);
    }
  });
});

/** verify names the problem; the atomic restore refuses with 'corrupt' and leaves an empty target; --jobs refuses too. */
async function expectRefused(storage: StorageBackend, id: string, problem: RegExp): Promise<void> {
  const v = await verifyBackup(storage, id);
  expect(v.ok).toBe(false);
  expect(v.problems.map((p) => p.problem).join('\n')).toMatch(problem);
  const t = await db();
  await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(problem) });
  expect(await hashesOf(t.url)).toEqual({});
  const p = await db();
  await expect(restoreParallel({ source: id, storage, targetUrl: p.url, jobs: 2 })).rejects.toMatchObject({ code: 'corrupt' });
}

/** Rewrites the compressed bytes of the first member `pick` selects, fixing offsets, lengths and the archive's size and SHA-256. */
async function rewriteMemberBytes(dir: string, id: string, pick: (kind: string) => boolean, edit: (gz: Buffer) => Buffer): Promise<void> {
  const mfile = path.join(dir, manifestKey(id));
  const afile = path.join(dir, archiveKey(id));
  const m = JSON.parse(await readFile(mfile, 'utf8')) as Manifest;
  const archive = await readFile(afile);
  const parts: Buffer[] = [];
  let offset = 0;
  let done = false;
  for (const member of physicalMembers(m.entries)) {
    let gz: Buffer = archive.subarray(member.offset, member.offset + member.length);
    if (!done && member.entries.some((e) => pick(e.kind))) {
      gz = edit(gz);
      done = true;
    }
    for (const e of member.entries) {
      e.offset = offset;
      e.length = gz.length;
    }
    offset += gz.length;
    parts.push(gz);
  }
  expect(done).toBe(true);
  const out = Buffer.concat(parts);
  m.archive.sizeBytes = out.length;
  m.archive.sha256 = createHash('sha256').update(out).digest('hex');
  await writeFile(afile, out);
  await writeFile(mfile, JSON.stringify(m));
}

describe('schema members that would do something else under gunzip | psql or our restore', () => {
  it('a psql meta-command (\\! runs a shell command) appended to a schema member, checksums recomputed', async () => {
    const { storage, dir, id } = await freshBackup();
    await tamperMember(dir, id, (e) => e.kind === 'TABLE', (text) => `${text}\\! touch ${canary()}\n`);
    await expectRefused(storage, id, /backslash outside quotes.*meta-command/);
  });

  it('a meta-command hidden in what reads as a string literal once standard_conforming_strings is off', async () => {
    const { storage, dir, id } = await freshBackup();
    await tamperMember(dir, id, (e) => e.kind === 'TABLE', (text) => `${text}SET standard_conforming_strings = off;\nSELECT 'a\\'' \\! touch ${canary()}\n';\n`);
    await expectRefused(storage, id, /backslash outside quotes.*meta-command/);
  });

  it('COPY ... TO PROGRAM in a schema member, checksums recomputed', async () => {
    const { storage, dir, id } = await freshBackup();
    const file = canary();
    await tamperMember(dir, id, (e) => e.kind === 'TABLE', (text) => `${text}copy (SELECT 1) TO PROGRAM 'touch ${file}';\n`);
    await expectRefused(storage, id, /COPY statement/);
    expect(existsSync(file)).toBe(false);
  });

  it('a gzip member hidden after zero padding inside a member (our reader stops at the zeros, gunzip stops the whole archive there)', async () => {
    const { storage, dir, id } = await freshBackup();
    await rewriteMemberBytes(dir, id, (k) => k === 'TABLE', (gz) => Buffer.concat([gz, Buffer.alloc(8), gzipSync(`COPY (SELECT 1) TO PROGRAM 'touch ${canary()}';\n`)]));
    await expectRefused(storage, id, /after the end of its gzip data/);
  });
});

describe('export from a backup (dashboard CSV/ZIP of a backup) trusts nothing in storage', () => {
  let app: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    app = await createTestDatabase({ migrate: true, prefix: 'hostile' });
    dbs.push(app);
    await exec(app.url, `INSERT INTO telegram_users (telegram_id, first_name, last_name, phone) VALUES (1001, 'Abebe', 'Kebede', '+251911000001'), (1002, 'Almaz', 'Tadesse', '+251911000002')`);
    pool = new pg.Pool({ connectionString: app.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
  });

  async function appBackup(key?: string) {
    if (key) process.env.BACKUP_SIGNING_KEY = key;
    else delete process.env.BACKUP_SIGNING_KEY;
    const { storage, dir } = await freshStorage();
    return { storage, dir, id: await backup(app.url, storage) };
  }
  /** The export's error (an export that opened is cancelled, so its connection goes back to the pool). */
  const exportOf = async (storage: StorageBackend, id: string) => {
    const r = await openTableExport(pool, { tables: ['telegram_users'], format: 'csv', timeZone: 'UTC', source: backupExportSource(storage, id) }).catch((err: unknown) => err);
    if (r instanceof Error) throw r;
    await (r as { stream: ReadableStream }).stream.cancel();
    return r;
  };

  it('with BACKUP_SIGNING_KEY, a member edited with every checksum recomputed is refused, naming the signature', async () => {
    const { storage, dir, id } = await appBackup(KEY_A);
    await tamperMember(dir, id, (e) => e.section === 'table-data' && e.name === 'telegram_users', (text) => text.replace('Kebede', 'Forged'));
    await expect(exportOf(storage, id)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/signature does not match/) });
  });

  it("a member whose first line is another COPY line (checksums recomputed) is refused", async () => {
    const { storage, dir, id } = await appBackup();
    await tamperMember(dir, id, (e) => e.section === 'table-data' && e.name === 'telegram_users', (text) => text.replace(/^COPY [^\n]*\n/, 'COPY "public"."telegram_users" ("id") FROM stdin;\n'));
    await expect(exportOf(storage, id)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/COPY line/) });
  });

  it("another backup's files stored under this id are refused", async () => {
    const a = await appBackup();
    const b = await appBackup();
    await copyFile(path.join(b.dir, manifestKey(b.id)), path.join(a.dir, manifestKey(a.id)));
    await copyFile(path.join(b.dir, archiveKey(b.id)), path.join(a.dir, archiveKey(a.id)));
    await expect(exportOf(a.storage, a.id)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/is for backup/) });
  });
});

describe('manifests that lie about themselves', () => {
  it('a start time that is not a date makes that backup unreadable, not every prune fail', async () => {
    const { storage, dir } = await freshStorage();
    const good = await backup(src.url, storage);
    const bad = await backup(src.url, storage);
    await editManifest(dir, bad, (m) => {
      m.startedAt = 'yesterday-ish';
    });
    const listed = await listBackups(storage);
    expect(listed.find((b) => b.id === bad)).toMatchObject({ status: 'unreadable', error: expect.stringMatching(/startedAt/) });
    const r = await pruneBackups(null, storage, { ...RETENTION_DEFAULTS, now: new Date(), dryRun: true });
    expect(r.items.map((i) => i.id)).toEqual([good]);
  });

  it("a first line (what list reads) that disagrees with the signed body is refused by verify and restore", async () => {
    const { storage, dir, id } = await freshBackup(KEY_A);
    const file = path.join(dir, manifestKey(id));
    const text = await readFile(file, 'utf8');
    const nl = text.indexOf('\n');
    const real = (JSON.parse(text) as Manifest).startedAt;
    // The full parse takes the LAST duplicate key: the body's real value, so the signature holds.
    const first = text.slice(0, nl).replace(`"startedAt":"${real}"`, '"startedAt":"2099-01-01T00:00:00.000Z"');
    await writeFile(file, `${first}${text.slice(nl, -2)},\n"startedAt":"${real}"}\n`);
    expect((JSON.parse(await readFile(file, 'utf8')) as Manifest).startedAt).toBe(real);
    expect((await listBackups(storage))[0].startedAt).toBe('2099-01-01T00:00:00.000Z');
    await expectRefused(storage, id, /first line.*disagrees/);
  });

  it('two tables of the same name, and an entry of a section this version does not know, are refused', async () => {
    const a = await freshBackup();
    await editManifest(a.dir, a.id, (m) => {
      const t = m.tables[0];
      m.tables.push({ ...t, entries: [] , rows: 0, contentSha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
    });
    await expectRefused(a.storage, a.id, /listed twice/);
    const b = await freshBackup();
    await editManifest(b.dir, b.id, (m) => {
      const e = m.entries.find((x) => x.section === 'post-data' || x.section === 'pre-data')!;
      (e as { section: string }).section = 'post-data-v9';
    });
    await expectRefused(b.storage, b.id, /section "post-data-v9"/);
  });
});

describe('reindex trusts a manifest only under its own name', () => {
  it("another backup's manifest under this id is skipped, and that backup's row keeps its own archive", async () => {
    const app = await createTestDatabase({ migrate: true, prefix: 'hostile' });
    dbs.push(app);
    const { storage, dir } = await freshStorage();
    const a = await backup(src.url, storage);
    const b = await backup(src.url, storage);
    await copyFile(path.join(dir, manifestKey(b)), path.join(dir, manifestKey(a)));
    const r = await reindex(storage, app.url);
    expect(r.skipped).toEqual([{ id: a, reason: expect.stringMatching(new RegExp(`manifest is for backup ${b}`)) }]);
    expect(r.upserted).toEqual([b]);
    expect(await scalar(app.url, `SELECT string_agg(id || ' ' || storage_location, ',') FROM backup_runs`)).toBe(`${b} file://${dir}/${archiveKey(b)}`);
  });
});

describe('retention with BACKUP_SIGNING_KEY', () => {
  it('an unsigned backup (or one signed with another key) is never the good backup retention keeps instead of a signed one', async () => {
    const { storage } = await freshStorage();
    process.env.BACKUP_SIGNING_KEY = KEY_A;
    const signed = await backup(src.url, storage);
    delete process.env.BACKUP_SIGNING_KEY;
    const unsigned = await backup(src.url, storage);
    process.env.BACKUP_SIGNING_KEY = 'o'.repeat(40);
    const otherKey = await backup(src.url, storage);
    process.env.BACKUP_SIGNING_KEY = KEY_A;
    const r = await pruneBackups(null, storage, { ...RETENTION_DEFAULTS, keepDays: 0, keepLast: 1, now: new Date(Date.now() + 1000), dryRun: true });
    const byId = Object.fromEntries(r.items.map((i) => [i.id, i]));
    expect(byId[signed]).toMatchObject({ action: 'keep' });
    expect(byId[unsigned]).toMatchObject({ action: 'remove', status: 'not verified' });
    expect(byId[otherKey]).toMatchObject({ action: 'remove', status: 'not verified' });
  });
});

describe('names that are JavaScript object keys', () => {
  it('tables, columns and a schema named __proto__, constructor, hasOwnProperty round trip through backup, verify, restore and a drill', async () => {
    const d = await db();
    await exec(
      d.url,
      `CREATE SCHEMA "__proto__";
       CREATE TABLE "__proto__"."constructor" ("__proto__" int, "hasOwnProperty" text);
       INSERT INTO "__proto__"."constructor" SELECT g, 'x' || g FROM generate_series(1, 5) g;
       CREATE TABLE public."__proto__" ("toString" int PRIMARY KEY); INSERT INTO public."__proto__" VALUES (1), (2);
       CREATE TABLE public."constructor" (id int REFERENCES public."__proto__"); INSERT INTO public."constructor" VALUES (1);`,
    );
    const { storage } = await freshStorage();
    const id = (await (await import('../../lib/backup/run-backup')).runBackup({ databaseUrl: d.url, storage, trigger: 'cli', schemas: ['public', '__proto__'] })).id;
    expect((await verifyBackup(storage, id)).problems).toEqual([]);
    const t = await db();
    const r = await restoreBackup({ source: id, storage, targetUrl: t.url, checkContent: true });
    expect(r.tables.map((x) => [x.schema, x.name, x.rows, x.contentMatches])).toEqual(
      expect.arrayContaining([
        ['__proto__', 'constructor', 5, true],
        ['public', '__proto__', 2, true],
        ['public', 'constructor', 1, true],
      ]),
    );
    expect(await hashesOf(t.url, ['public', '__proto__'])).toEqual(await hashesOf(d.url, ['public', '__proto__']));
    expect((await runDrill({ storage, id, drillUrl: (await db()).url })).ok).toBe(true);
  });
});

describe('a manifest nested 200,000 deep (JSON.parse reads it; the signature check recursed)', () => {
  it('with BACKUP_SIGNING_KEY, verify, restore and a drill refuse it naming the cause, not "Maximum call stack size exceeded"', async () => {
    const { storage, dir, id } = await freshBackup(KEY_A);
    const file = path.join(dir, manifestKey(id));
    const text = (await readFile(file, 'utf8')).trimEnd();
    await writeFile(file, `${text.slice(0, -1)},"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}\n`);
    const v = await verifyBackup(storage, id);
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.problem).join('\n')).toMatch(/nested more than 32 levels/);
    const t = await db();
    await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/nested more than 32 levels/) });
    expect(await hashesOf(t.url)).toEqual({});
    expect((await runDrill({ storage, id, drillUrl: (await db()).url })).error).toMatch(/nested more than 32 levels/);
  });
});

describe('the same attacks on S3 storage (s3rver)', () => {
  it("another backup's signed files under this id are refused on S3 too (restore, verify, drill)", async () => {
    const server = await startS3Server();
    const saved = { ...process.env };
    Object.assign(process.env, server.env);
    const storage = openStorage(server.url);
    try {
      process.env.BACKUP_SIGNING_KEY = KEY_A;
      const a = await backup(src.url, storage);
      const b = await backup(src.url, storage);
      const copy = async (from: string, to: string) => {
        await storage.put(to, await storage.get(from));
      };
      await copy(manifestKey(b), manifestKey(a));
      await copy(archiveKey(b), archiveKey(a));
      const v = await verifyBackup(storage, a);
      expect(v.problems.map((p) => p.problem).join('\n')).toMatch(new RegExp(`manifest is for backup ${b}`));
      const t = await db();
      await expect(restoreBackup({ source: a, storage, targetUrl: t.url })).rejects.toMatchObject({ code: 'corrupt', message: expect.stringMatching(/is for backup/) });
      expect(await hashesOf(t.url)).toEqual({});
      const d = await runDrill({ storage, id: a, drillUrl: (await db()).url });
      expect(d.error).toMatch(/is for backup/);
    } finally {
      await storage.close();
      await server.stop();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('a drill killed before it dropped its scratch database', () => {
  it('the next drill drops the scratch database nobody holds, and leaves alone one whose drill still runs', async () => {
    const orphan = `tickethub_drill_orphan_${randomBytes(3).toString('hex')}`;
    const live = `tickethub_drill_live_${randomBytes(3).toString('hex')}`;
    const holder = new pg.Client({ connectionString: serverUrl() });
    await holder.connect();
    try {
      await holder.query(`CREATE DATABASE "${orphan}"`);
      await holder.query(`CREATE DATABASE "${live}"`);
      // A running drill holds the lock named after its scratch database (here: between CREATE DATABASE and its restore).
      await holder.query(`SELECT pg_advisory_lock(hashtext('tickethub-drill:' || $1))`, [live]);
      const { storage, id } = await freshBackup();
      expect((await runDrill({ storage, id, serverUrl: serverUrl() })).ok).toBe(true);
      const left = await withClient(serverUrl(), async (c) => (await c.query(`SELECT datname FROM pg_database WHERE datname = ANY($1) ORDER BY 1`, [[orphan, live]])).rows.map((r) => r.datname));
      expect(left).toEqual([live]);
    } finally {
      await holder.query(`DROP DATABASE IF EXISTS "${orphan}"`).catch(() => {});
      await holder.query(`DROP DATABASE IF EXISTS "${live}"`).catch(() => {});
      await holder.end();
    }
  });
});

describe('two drills on one server, through URLs naming different databases', () => {
  it('a running drill whose scratch database nobody is connected to at the moment is left alone by a drill started through another database', async () => {
    // The CLI's drill uses DATABASE_URL (the app's database) as its server URL, a scheduled drill
    // of another app its own: a drill's advisory lock, taken in its own URL's database, is not
    // seen from another database, and the second drill dropped the first one's scratch database.
    const other = await createTestDatabase({ prefix: 'hostile' });
    const live = `tickethub_drill_other_${randomBytes(3).toString('hex')}`;
    const holder = await holdScratch(other.url, live);
    try {
      await holder.query(`CREATE DATABASE "${live}"`);
      const { storage, id } = await freshBackup();
      expect((await runDrill({ storage, id, serverUrl: serverUrl() })).ok).toBe(true);
      const left = async () => withClient(serverUrl(), async (c) => (await c.query(`SELECT count(*)::int n FROM pg_database WHERE datname = $1`, [live])).rows[0].n as number);
      expect(await left(), 'the running drill\'s scratch database').toBe(1);
      // Once its drill is gone (its holding session ended), the next drill sweeps it.
      await holder.end();
      expect((await runDrill({ storage, id, serverUrl: serverUrl() })).ok).toBe(true);
      expect(await left(), 'the dead drill\'s scratch database').toBe(0);
    } finally {
      await holder.end().catch(() => {});
      await withClient(serverUrl(), (c) => c.query(`DROP DATABASE IF EXISTS "${live}"`)).catch(() => {});
      await other.drop();
    }
  });
});

describe('manifest shapes an attacker can write (held: a table of them, each refused by verify and restore)', () => {
  const edits: [string, (m: Manifest) => void, RegExp][] = [
    ['formatVersion as a string', (m) => ((m as { formatVersion: unknown }).formatVersion = '3'), /unknown archive format version/],
    ['a format version from the future', (m) => (m.formatVersion = 99), /unknown archive format version 99/],
    ['the last entry duplicated', (m) => m.entries.push({ ...m.entries[m.entries.length - 1], index: m.entries.length }), /expected|tile|members end|does not follow/],
    ['a negative offset', (m) => (m.entries[1].offset = -5), /invalid byte range|expected/],
    ['a fractional length', (m) => (m.entries[1].length += 0.5), /invalid byte range/],
    ['a row count of 1e21 in a chunk and its table', (m) => {
      const e = m.entries.find((x) => x.section === 'table-data')!;
      e.rows = 1e21;
      m.tables.find((t) => t.entries.includes(e.index))!.rows = 1e21;
    }, /rows/],
    ['a table-data entry pointing at the header member', (m) => {
      const e = m.entries.find((x) => x.section === 'table-data')!;
      e.offset = m.entries[0].offset;
      e.length = m.entries[0].length;
    }, /expected|tile/],
  ];
  for (const [what, edit, why] of edits) {
    it(what, async () => {
      const { storage, dir, id } = await freshBackup();
      await editManifest(dir, id, edit);
      const v = await verifyBackup(storage, id);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.problem).join('\n')).toMatch(why);
      const t = await db();
      await expect(restoreBackup({ source: id, storage, targetUrl: t.url })).rejects.toMatchObject({ code: expect.stringMatching(/corrupt|incompatible|verification_failed/) });
      expect(await hashesOf(t.url)).toEqual({});
    });
  }
});
