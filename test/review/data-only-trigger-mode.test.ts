import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// `restore --mode data-only` disables the reloaded tables' user triggers and re-enables them
// after. It re-enabled every one with plain ENABLE TRIGGER, silently turning an ENABLE ALWAYS or
// ENABLE REPLICA trigger (logical replication setups) into an ordinary one on the live database.
describe('data-only restore keeps trigger firing modes', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-trg-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ALWAYS stays ALWAYS, REPLICA stays REPLICA, disabled stays disabled', async () => {
    await withClient(db.url, async (c) => {
      await c.query(`CREATE TABLE public.seats (id int PRIMARY KEY, taken boolean);
                     CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
                     CREATE TRIGGER t_always BEFORE INSERT ON public.seats FOR EACH ROW EXECUTE FUNCTION public.noop();
                     CREATE TRIGGER t_replica BEFORE INSERT ON public.seats FOR EACH ROW EXECUTE FUNCTION public.noop();
                     CREATE TRIGGER t_origin BEFORE INSERT ON public.seats FOR EACH ROW EXECUTE FUNCTION public.noop();
                     CREATE TRIGGER t_off BEFORE INSERT ON public.seats FOR EACH ROW EXECUTE FUNCTION public.noop();
                     ALTER TABLE public.seats ENABLE ALWAYS TRIGGER t_always;
                     ALTER TABLE public.seats ENABLE REPLICA TRIGGER t_replica;
                     ALTER TABLE public.seats DISABLE TRIGGER t_off;
                     INSERT INTO public.seats VALUES (1, true), (2, false);`);
    });
    const storage = openStorage(dir);
    const b = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await restoreBackup({ source: b.id, storage, targetUrl: db.url, mode: 'data-only', tables: ['seats'] });
    const modes = await withClient(db.url, async (c) =>
      Object.fromEntries((await c.query(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'public.seats'::regclass AND NOT tgisinternal`)).rows.map((r) => [r.tgname, r.tgenabled])),
    );
    expect(modes).toEqual({ t_always: 'A', t_replica: 'R', t_origin: 'O', t_off: 'D' });
  }, 60_000);
});
