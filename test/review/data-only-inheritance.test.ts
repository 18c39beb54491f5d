import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// `restore --mode data-only --tables <parent>` on a table with inheritance children: TRUNCATE
// without ONLY also empties the children, whose rows are then not reloaded (they were not chosen)
// and not checked — their data would be silently lost at COMMIT.
describe('data-only restore of an inheritance parent', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-inh-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reloads the parent only and leaves the child rows alone', async () => {
    await withClient(db.url, async (c) => {
      await c.query(`CREATE TABLE public.measure (id int, v text);
                     CREATE TABLE public.measure_2026 () INHERITS (public.measure);
                     INSERT INTO public.measure VALUES (1, 'parent');
                     INSERT INTO public.measure_2026 VALUES (2, 'child a'), (3, 'child b');`);
    });
    const storage = openStorage(dir);
    const b = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await withClient(db.url, (c) => c.query(`DELETE FROM ONLY public.measure; INSERT INTO public.measure_2026 VALUES (4, 'child new')`));

    await restoreBackup({ source: b.id, storage, targetUrl: db.url, mode: 'data-only', tables: ['measure'] });

    const rows = await withClient(db.url, async (c) => ({
      parent: (await c.query('SELECT id FROM ONLY public.measure ORDER BY id')).rows.map((r) => r.id),
      child: (await c.query('SELECT id FROM public.measure_2026 ORDER BY id')).rows.map((r) => r.id),
    }));
    expect(rows.parent).toEqual([1]);
    expect(rows.child).toEqual([2, 3, 4]);
  }, 60_000);
});
