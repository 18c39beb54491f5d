import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, withClient, type TestDatabase } from '../helpers/db';
import { runBackup } from '../../lib/backup/run-backup';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { openStorage } from '../../lib/storage/open-storage';

/**
 * An object the backup carries (an event trigger, an operator class's support function) that uses a function in a
 * schema that is not backed up: an external dependency like a foreign key to auth.users. Before:
 * not recorded, so the backup and verify were green, the drill and every restore failed
 * ('function public.on_ddl() does not exist').
 */
const dbs: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('an event trigger and an operator class using functions outside the backed-up schemas are external dependencies: named by the backup, recreated by the drill', async () => {
  const src = await createTestDatabase({ prefix: 'extk' });
  dbs.push(src);
  await withClient(src.url, (c) =>
    c.query(`CREATE SCHEMA x; CREATE TYPE x.pair AS (a int, b int); CREATE TABLE x.t (id int, p x.pair);
      CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
      CREATE EVENT TRIGGER ext_ev ON ddl_command_end EXECUTE FUNCTION public.on_ddl();
      CREATE FUNCTION public.pair_hash(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
      CREATE OPERATOR x.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
      CREATE OPERATOR CLASS x.int_ops FOR TYPE int USING hash AS OPERATOR 1 x.===, FUNCTION 1 public.pair_hash(int);`),
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extk-'));
  dirs.push(dir);
  const storage = openStorage(path.join(dir, 'store'));
  try {
    const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: ['x'] });
    expect(r.manifest.externalDependencies?.map((d) => `${d.name} <- ${d.usedBy.join(', ')}`)).toEqual([
      'public.on_ddl() <- event trigger ext_ev',
      'public.pair_hash(integer) <- function of access method function 1 (integer, integer) of x.int_ops USING hash',
    ]);
    const drill = await runDrill({ storage, id: r.id, serverUrl: serverUrl() });
    expect(drill.error).toBeNull();
    expect(drill.ok).toBe(true);
    const empty = await createTestDatabase({ prefix: 'extk' });
    dbs.push(empty);
    await expect(restoreBackup({ source: r.id, storage, targetUrl: empty.url, mode: 'fresh' })).rejects.toThrow(/public\.on_ddl\(\)/);
  } finally {
    await storage.close();
  }
});
