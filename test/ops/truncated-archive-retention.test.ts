import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../lib/backup/list-backups';
import { archiveKey } from '../../lib/backup/manifest';
import { pruneBackups } from '../../lib/backup/prune';
import { runBackup } from '../../lib/backup/run-backup';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { exec, tempStorage } from '../backup/restore-test-helpers';

// Storage that loses bytes after a backup was checked (a partial sync, a bad copy, someone
// truncating files): the archive is shorter (or longer) than its manifest says, so it cannot
// restore. `list` already has the archive's size from the listing; it showed such a backup as
// "succeeded", and retention counted it as the newest GOOD backup and removed the older, intact
// one: the only restorable backup was deleted.
let src: TestDatabase;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'truncret' });
  await exec(src.url, `CREATE TABLE public.t (a int, b text); INSERT INTO public.t SELECT g, repeat('x', 50) || g FROM generate_series(1, 2000) g;`);
});

afterAll(async () => {
  await src.drop().catch(() => {});
});

describe('an archive whose size is not its manifest\'s', () => {
  it('is listed unreadable naming both sizes, never succeeded; retention keeps the older intact backup instead of it', async () => {
    const { storage, dir } = await tempStorage();
    const older = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
    const newer = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
    const grown = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli' })).id;
    const file = path.join(dir, archiveKey(newer));
    const size = (await readFile(file)).length;
    await truncate(file, size - 100);
    // Bytes appended (a second upload appended to the first, a copy of something else): as bad.
    await writeFile(path.join(dir, archiveKey(grown)), Buffer.concat([await readFile(path.join(dir, archiveKey(grown))), Buffer.alloc(10)]));

    const listed = await listBackups(storage);
    const byId = new Map(listed.map((b) => [b.id, b]));
    expect(byId.get(older)!.status).toBe('succeeded');
    for (const [id, bytes, expected] of [
      [newer, size - 100, size],
      [grown, undefined, undefined],
    ] as const) {
      const b = byId.get(id)!;
      expect(b.status).toBe('unreadable');
      expect(b.error).toMatch(/has \d+ bytes, the manifest says \d+/);
      if (bytes !== undefined) expect(b.error).toContain(`has ${bytes} bytes, the manifest says ${expected}`);
    }

    // Keep only the newest good backup: it must be the intact one, and nothing unreadable is removed.
    const later = new Date(Date.now() + 3 * 86_400_000);
    const r = await pruneBackups(null, storage, { keepDays: 0, keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, now: later });
    expect(r.removed.map((d) => d.id)).not.toContain(older);
    const after = new Map((await listBackups(storage)).map((b) => [b.id, b.status]));
    expect(after.get(older)).toBe('succeeded');
    expect(after.get(newer)).toBe('unreadable');
  });
});
