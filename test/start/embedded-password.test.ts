import { afterAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { embeddedPasswordFile, startEmbeddedPostgres } from '../../lib/db/embedded';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function clusterDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tickethub-pgpw-'));
  // As root, PostgreSQL runs as the `postgres` system user, which must reach the data directory.
  await chmod(d, 0o777);
  dirs.push(d);
  return path.join(d, 'pg');
}

/** Whether the embedded server on `port` accepts `password` for the superuser. */
async function authenticates(port: number, password: string): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  try {
    await c.connect();
    return true;
  } catch (err) {
    expect(String(err)).toMatch(/password authentication failed/);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

describe('embedded PostgreSQL superuser password', () => {
  it('a new cluster gets a random owner-only password file that later starts reuse; the legacy password does not work', async () => {
    const dir = await clusterDir();
    const first = await startEmbeddedPostgres(dir, { quiet: true });
    let password: string;
    try {
      const file = embeddedPasswordFile(dir);
      expect(path.dirname(file)).toBe(path.dirname(dir)); // beside the data directory, not inside
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      password = (await readFile(file, 'utf8')).trim();
      expect(password).not.toBe('tickethub-local');
      expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(new URL(first.url).password).toBe(password);
      expect(await authenticates(first.port, password)).toBe(true);
      expect(await authenticates(first.port, 'tickethub-local')).toBe(false);
    } finally {
      await first.stop();
    }
    const second = await startEmbeddedPostgres(dir, { quiet: true });
    try {
      expect((await readFile(embeddedPasswordFile(dir), 'utf8')).trim()).toBe(password);
      expect(new URL(second.url).password).toBe(password);
      expect(await authenticates(second.port, password)).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('a cluster created with the legacy password and no password file is moved to a random one', async () => {
    const dir = await clusterDir();
    const first = await startEmbeddedPostgres(dir, { quiet: true });
    try {
      // Recreate what an older release left behind: the fixed password, no password file.
      const c = new pg.Client({ connectionString: first.url });
      await c.connect();
      await c.query(`ALTER ROLE postgres PASSWORD 'tickethub-local'`);
      await c.end();
    } finally {
      await first.stop();
    }
    await rm(embeddedPasswordFile(dir));
    const second = await startEmbeddedPostgres(dir, { quiet: true });
    try {
      const file = embeddedPasswordFile(dir);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const password = (await readFile(file, 'utf8')).trim();
      expect(password).not.toBe('tickethub-local');
      expect(new URL(second.url).password).toBe(password);
      expect(await authenticates(second.port, password)).toBe(true);
      expect(await authenticates(second.port, 'tickethub-local')).toBe(false);
    } finally {
      await second.stop();
    }
  });
});
