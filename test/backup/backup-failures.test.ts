import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { startS3Server } from '../helpers/s3-server';
import type { TestS3Server } from '../helpers/s3-server';
import { freePort } from '../../lib/db/embedded';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';

// Every way a backup can fail must end the same way: one line naming the cause, the run recorded
// failed with that line (when the database can be written), and nothing in storage that looks
// like a backup (no archive, no manifest, no visible temp file).

let app: TestDatabase;
let tmp: string;
let s3: TestS3Server;

beforeAll(async () => {
  app = await createTestDatabase({ migrate: true, prefix: 'bkfail' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'backup-failures-'));
  await withClient(app.url, async (c) => {
    await c.query(`INSERT INTO public.activity_logs (action, entity_type, description) SELECT 'SEEDED', 'system', 'ረድፍ ' || g FROM generate_series(1, 2000) g`);
    await c.query(`CREATE TABLE public.big (id int PRIMARY KEY, body text NOT NULL)`);
    await c.query(`INSERT INTO public.big SELECT g, repeat(md5(g::text), 10) FROM generate_series(1, 300000) g`);
  });
  s3 = await startS3Server();
});
afterAll(async () => {
  await app?.drop().catch(() => {});
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function lastRun(): Promise<{ id: string; status: string; error: string | null } | undefined> {
  return withClient(app.url, async (c) => (await c.query(`SELECT id, status, error FROM public.backup_runs ORDER BY started_at DESC, id DESC LIMIT 1`)).rows[0]);
}

async function expectNothingStored(storage: StorageBackend, dir?: string) {
  expect(await storage.list().catch(() => [])).toEqual([]);
  if (dir) expect(await readdir(dir).catch(() => [])).toEqual([]);
}

function oneLine(msg: string) {
  expect(msg).not.toMatch(/\n/);
  expect(msg.length).toBeGreaterThan(10);
}

describe('backup failures', () => {
  it('unreachable database: one line, exit code class db_unreachable, nothing stored', async () => {
    const dir = path.join(tmp, 'unreachable');
    const storage = openStorage(dir);
    const port = await freePort();
    const err = await runBackup({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/x`, storage, trigger: 'cli' }).catch((e) => e);
    expect(err.code).toBe('db_unreachable');
    expect(err.message).toMatch(new RegExp(`^cannot connect to the database 127\\.0\\.0\\.1:${port}/x: .*ECONNREFUSED`));
    oneLine(err.message);
    await expectNothingStored(storage, dir);
  });

  it('wrong credentials: db_auth naming the role', async () => {
    const storage = openStorage(path.join(tmp, 'auth'));
    const u = new URL(app.url);
    u.username = 'no_such_role';
    u.password = 'wrong';
    const err = await runBackup({ databaseUrl: u.toString(), storage, trigger: 'cli' }).catch((e) => e);
    expect(err.code).toBe('db_auth');
    expect(err.message).toMatch(/no_such_role/);
    oneLine(err.message);
    await expectNothingStored(storage);
  });

  it('a table without SELECT permission: names the table, run recorded failed, nothing stored', async () => {
    await withClient(app.url, async (c) => {
      await c.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bk_limited') THEN CREATE ROLE bk_limited LOGIN PASSWORD 'limited-pw'; END IF; END $$`);
      await c.query(`GRANT CONNECT ON DATABASE "${app.name}" TO bk_limited`);
      await c.query(`GRANT USAGE ON SCHEMA public TO bk_limited`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO bk_limited`);
      await c.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO bk_limited`);
      await c.query(`GRANT INSERT, UPDATE ON public.backup_runs, public.activity_logs TO bk_limited`);
      await c.query(`CREATE TABLE public.secret (id int, token text)`);
      await c.query(`INSERT INTO public.secret VALUES (1, 'do not read')`);
    });
    const u = new URL(app.url);
    u.username = 'bk_limited';
    u.password = 'limited-pw';
    const dir = path.join(tmp, 'perm');
    const storage = openStorage(dir);
    try {
      const err = await runBackup({ databaseUrl: u.toString(), storage, trigger: 'manual' }).catch((e) => e);
      expect(err.code).toBe('db_permission');
      expect(err.message).toBe('cannot read table public.secret: permission denied for table secret');
      const run = await lastRun();
      expect(run).toMatchObject({ status: 'failed', error: err.message });
      const log = await withClient(app.url, async (c) => (await c.query(`SELECT action, description FROM public.activity_logs WHERE entity_id = $1`, [run!.id])).rows);
      expect(log).toEqual([{ action: 'BACKUP_FAILED', description: `Backup failed: ${err.message}` }]);
      await expectNothingStored(storage, dir);
    } finally {
      await withClient(app.url, (c) => c.query('DROP TABLE public.secret'));
    }
  });

  it('storage not writable: storage error, run recorded failed', async () => {
    const file = path.join(tmp, 'a-file');
    await writeFile(file, 'not a directory');
    const storage = openStorage(path.join(file, 'backups'));
    const err = await runBackup({ databaseUrl: app.url, storage, trigger: 'cron' }).catch((e) => e);
    expect(err.code).toBe('storage');
    oneLine(err.message);
    expect(await lastRun()).toMatchObject({ status: 'failed', error: err.message });
  });

  it('disk full (a 512 KB tmpfs): storage error naming the cause, run recorded failed, no file left', async (ctx) => {
    const { execFile } = await import('node:child_process');
    const run = (cmd: string, args: string[]) => new Promise<void>((res, rej) => execFile(cmd, args, (e) => (e ? rej(e) : res())));
    const mnt = path.join(tmp, 'full');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(mnt, { recursive: true });
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt]);
    } catch {
      ctx.skip(); // needs root and mount permission; the storage contract tests cover ENOSPC mapping too
    }
    try {
      const storage = openStorage(mnt);
      const err = await runBackup({ databaseUrl: app.url, storage, trigger: 'cron' }).catch((e) => e);
      expect(err.code).toBe('storage');
      expect(err.message).toMatch(/no space|disk full|ENOSPC/i);
      oneLine(err.message);
      expect(await lastRun()).toMatchObject({ status: 'failed', error: err.message });
      expect(await readdir(mnt)).toEqual([]);
    } finally {
      await run('umount', [mnt]).catch(() => {});
    }
  });

  it('missing S3 bucket: storage error naming the bucket, run recorded failed', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    const storage = openStorage('s3://no-such-bucket-here/backups');
    try {
      const err = await runBackup({ databaseUrl: app.url, storage, trigger: 'cron' }).catch((e) => e);
      expect(err.code).toBe('storage');
      expect(err.message).toMatch(/no-such-bucket-here/);
      oneLine(err.message);
      expect(await lastRun()).toMatchObject({ status: 'failed', error: err.message });
    } finally {
      await storage.close();
      process.env = saved;
    }
  });

  it('storage that silently corrupts what it stores: caught by the read-back verification, run failed, files removed', async () => {
    const dir = path.join(tmp, 'bitrot');
    const inner = openStorage(dir);
    // A disk/bucket that flips one bit in the middle of every archive it stores.
    const bitrot: StorageBackend = {
      location: inner.location,
      put: (key, body) => {
        if (!key.endsWith('.sql.gz')) return inner.put(key, body);
        let seen = 0;
        const flip = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            const at = 5000 - seen;
            if (at >= 0 && at < chunk.length) {
              chunk = Buffer.from(chunk);
              chunk[at] ^= 0x10;
            }
            seen += chunk.length;
            cb(null, chunk);
          },
        });
        body.on('error', (e) => flip.destroy(e));
        return inner.put(key, body.pipe(flip));
      },
      get: (k, r) => inner.get(k, r),
      stat: (k) => inner.stat(k),
      list: (p) => inner.list(p),
      delete: (k) => inner.delete(k),
      close: () => inner.close(),
    };
    const err = await runBackup({ databaseUrl: app.url, storage: bitrot, trigger: 'cron' }).catch((e) => e);
    expect(err.code).toBe('verification_failed');
    expect(err.message).toMatch(/^the stored backup did not verify: /);
    oneLine(err.message);
    const run = await withClient(app.url, async (c) => (await c.query(`SELECT status, error, verification, verified_at FROM public.backup_runs ORDER BY started_at DESC LIMIT 1`)).rows[0]);
    expect(run).toMatchObject({ status: 'failed', error: err.message });
    expect(run.verification.ok).toBe(false);
    expect(run.verified_at).not.toBeNull();
    await expectNothingStored(inner, dir);
  });

  it('storage that hands back other bytes than were written: the read-back (hash of the stored bytes, no decompression) fails the run', async () => {
    const dir = path.join(tmp, 'readrot');
    const inner = openStorage(dir);
    // Stores faithfully, but every read of the archive returns one byte changed (a bad cache, a
    // replica that diverged): the stored object is not what the backup wrote.
    const readrot: StorageBackend = {
      location: inner.location,
      put: (key, body) => inner.put(key, body),
      get: async (key, range) => {
        const s = await inner.get(key, range);
        if (!key.endsWith('.sql.gz')) return s;
        let seen = 0;
        return s.pipe(
          new Transform({
            transform(chunk: Buffer, _enc, cb) {
              const at = 70_000 - seen;
              if (at >= 0 && at < chunk.length) {
                chunk = Buffer.from(chunk);
                chunk[at] ^= 0x01;
              }
              seen += chunk.length;
              cb(null, chunk);
            },
          }),
        );
      },
      stat: (k) => inner.stat(k),
      list: (p) => inner.list(p),
      delete: (k) => inner.delete(k),
      close: () => inner.close(),
    };
    const phases: string[] = [];
    const err = await runBackup({ databaseUrl: app.url, storage: readrot, trigger: 'cli', onProgress: (p) => phases.push(p.phase) }).catch((e) => e);
    expect(err.code).toBe('verification_failed');
    expect(err.message).toMatch(/^the stored backup did not verify: archive \S+\.sql\.gz in storage has SHA-256 [0-9a-f]{64}, what was written has [0-9a-f]{64}$/);
    expect(phases).toContain('verifying');
    const run = await withClient(app.url, async (c) => (await c.query(`SELECT status, error, verification FROM public.backup_runs ORDER BY started_at DESC LIMIT 1`)).rows[0]);
    expect(run).toMatchObject({ status: 'failed', error: err.message });
    // What was checked is recorded: the stored bytes, not a decompression of the members.
    expect(run.verification).toMatchObject({ ok: false, scope: 'stored-bytes', proved: 'stored bytes identical to what was written (SHA-256 of the archive)' });
    await expectNothingStored(inner, dir);
  });

  it('interrupted (Ctrl-C in the CLI = an aborted signal): aborted, recorded failed, nothing stored', async () => {
    const dir = path.join(tmp, 'aborted');
    const storage = openStorage(dir);
    const ac = new AbortController();
    const err = await runBackup({
      databaseUrl: app.url,
      storage,
      trigger: 'cli',
      chunkBytes: 1024 * 1024,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase === 'data' && p.rows > 1000) ac.abort();
      },
    }).catch((e) => e);
    expect(err.code).toBe('aborted');
    expect(err.message).toBe('the backup was interrupted');
    expect(await lastRun()).toMatchObject({ status: 'failed', error: 'the backup was interrupted' });
    await expectNothingStored(storage, dir);
  });

  it('connection dropped mid-COPY: fails with the cause, recorded failed, nothing left in storage (S3)', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    const storage = openStorage(`${s3.url}-drop`);
    const killer = new pg.Client({ connectionString: app.url });
    await killer.connect();
    try {
      let killed = 0;
      const backup = runBackup({ databaseUrl: app.url, storage, trigger: 'manual', workers: 2, chunkBytes: 1024 * 1024 });
      // Terminate a worker while its COPY of the big table is running.
      const hunt = (async () => {
        for (let i = 0; i < 400 && !killed; i++) {
          const r = await killer.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
                                         WHERE datname = current_database() AND query LIKE 'COPY%big%' AND state = 'active' AND pid <> pg_backend_pid() LIMIT 1`);
          killed += r.rowCount ?? 0;
          if (!killed) await new Promise((res) => setTimeout(res, 5));
        }
      })();
      const err = await backup.catch((e) => e);
      await hunt;
      expect(killed).toBe(1);
      expect(err.code, `${err.code}: ${err.message}\n${err.stack}`).toBe('db_unreachable');
      expect(err.message).toMatch(/^reading table public\.big failed: terminating connection due to administrator command$/);
      expect(await lastRun()).toMatchObject({ status: 'failed', error: err.message });
      await expectNothingStored(storage);
    } finally {
      await killer.end();
      await storage.close();
      process.env = saved;
    }
  });
});
