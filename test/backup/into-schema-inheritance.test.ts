import { afterAll, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { backup, exec, hashesOf, scalar, tempStorage } from './restore-test-helpers';

/**
 * restore --into-schema of an inheritance child: the copy kept INHERITS (public.par), so the LIVE
 * parent's queries (SELECT ... FROM par, without ONLY) returned the restored rows too — live
 * results changed by a restore that promises to leave the live data alone (green). The copy is
 * now stand-alone (NO INHERIT each parent, its inherited columns and CHECKs kept), as a
 * partition's copy is never attached.
 */
const dbs: TestDatabase[] = [];
let storage: StorageBackend;
afterAll(async () => {
  await storage?.close();
  for (const d of dbs) await d.drop().catch(() => undefined);
});

it('an inheritance child restored into another schema is not a child of the live parent; its columns, CHECKs and rows are the backup\'s', async () => {
  const db = await createTestDatabase({ prefix: 'ish' });
  dbs.push(db);
  await exec(db.url, `
    CREATE TABLE public.par (a int CONSTRAINT a_pos CHECK (a > 0), t text DEFAULT 'p');
    CREATE TABLE public.par2 (z int);
    CREATE TABLE public.ch (b text) INHERITS (public.par, public.par2);
    CREATE TABLE public."odd ""child""" (c int, a int CONSTRAINT a_pos CHECK (a > 0), t text);
    ALTER TABLE public."odd ""child""" INHERIT public.par;
    INSERT INTO public.par VALUES (1, 'parent');
    INSERT INTO public.ch VALUES (2, 'child', 3, 'b');
    INSERT INTO public."odd ""child""" VALUES (9, 4, 'odd');`);
  ({ storage } = await tempStorage());
  const id = await backup(db.url, storage, ['public']);
  const live = await hashesOf(db.url, ['public']);
  const parentRows = await scalar<string>(db.url, `SELECT string_agg(a::text, ',' ORDER BY a) FROM public.par`);
  expect(parentRows).toBe('1,2,4');
  await restoreBackup({ source: id, storage, targetUrl: db.url, intoSchema: 'side', tables: ['ch', 'odd "child"', 'par'] });
  // The live tables and what their parents return are unchanged.
  expect(await hashesOf(db.url, ['public'])).toEqual(live);
  expect(await scalar<string>(db.url, `SELECT string_agg(a::text, ',' ORDER BY a) FROM public.par`)).toBe(parentRows);
  expect(await scalar<number>(db.url, `SELECT count(*)::int FROM public.par2`)).toBe(1);
  expect(await scalar<number>(db.url, `SELECT count(*)::int FROM pg_inherits WHERE inhrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'side'::regnamespace)`)).toBe(0);
  // The copies: every column in order, the CHECK kept, the backup's rows.
  expect(await scalar<string>(db.url, `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'side.ch'::regclass AND attnum > 0 AND NOT attisdropped`)).toBe('a,t,z,b');
  expect(await scalar<string>(db.url, `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'side."odd ""child"""'::regclass AND attnum > 0 AND NOT attisdropped`)).toBe('c,a,t');
  expect(await scalar<number>(db.url, `SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'side.ch'::regclass AND conname = 'a_pos'`)).toBe(1);
  const side = await hashesOf(db.url, ['side']);
  expect(side['side.ch']).toEqual(live['public.ch']);
  expect(side['side.odd "child"']).toEqual(live['public.odd "child"']);
  expect(side['side.par']).toEqual(live['public.par']);
}, 120_000);
