import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, tempStorage } from './restore-test-helpers';

// A DBA's ALTER ROLE / ALTER DATABASE ... SET statement_timeout (lock_timeout,
// idle_in_transaction_session_timeout, idle_session_timeout) reaches every session of the drill: the scratch database's
// creation, the dependencies it recreates, the schema comparison, the large-object comparison. The
// restore's own connections turn them off (connectTarget); the drill's other connections did not,
// so a drill of a big backup failed 'canceling statement due to statement timeout' on data that
// restores fine.
const PASSWORD = 'drill-timeouts-pw';
const role = `h2dt_${randomBytes(4).toString('hex')}`;
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
const dbs: TestDatabase[] = [];

function asRole(url: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'h2dt' });
  // Enough catalog (400 tables with comments, grants and defaults) and large-object bytes that the
  // schema and large-object comparisons each take well over the 20 ms the role allows.
  const tables = Array.from({ length: 400 }, (_, i) => `CREATE TABLE public.t${i} (id int PRIMARY KEY DEFAULT ${i}, v text DEFAULT 'x${i}'); COMMENT ON TABLE public.t${i} IS 'table ${i}';`).join('\n');
  await exec(
    src.url,
    `${tables}
     INSERT INTO public.t0 SELECT g, pg_catalog.md5(g::text) FROM pg_catalog.generate_series(1, 2000) g;
     SELECT pg_catalog.lo_from_bytea(0, pg_catalog.decode(pg_catalog.repeat(pg_catalog.md5(g::text), 20000), 'hex')) FROM pg_catalog.generate_series(1, 4) g;`,
  );
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
  await exec(serverUrl(), `CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}' SUPERUSER`);
  // idle_session_timeout would end the connection holding the scratch database's advisory lock.
  for (const s of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'idle_session_timeout']) {
    await exec(serverUrl(), `ALTER ROLE ${role} SET ${s} = '20ms'`);
  }
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  await src?.drop();
  await exec(serverUrl(), `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a drill as a role whose statement_timeout/lock_timeout/idle_in_transaction_session_timeout/idle_session_timeout are 20 ms', () => {
  it('into a scratch database: passes', async () => {
    const r = await runDrill({ storage, id, serverUrl: asRole(serverUrl()) });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.tables).toHaveLength(400);
  });

  it('into a DRILL_DATABASE_URL database with the same settings of its own: passes', async () => {
    const d = await createTestDatabase({ prefix: 'h2dt' });
    dbs.push(d);
    await exec(serverUrl(), `ALTER DATABASE "${d.name}" SET statement_timeout = '20ms'; ALTER DATABASE "${d.name}" SET lock_timeout = '20ms'`);
    const r = await runDrill({ storage, id, drillUrl: asRole(d.url) });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
  });
});
