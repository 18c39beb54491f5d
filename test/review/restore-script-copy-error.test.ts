import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// `restore <file> --force` without a manifest runs the archive as a plain script. When the server
// rejects a COPY block's data early (a bad row near the top of a big block), the restore must fail
// with one clear error and roll back — not hang waiting for a 'drain' that never comes, nor crash
// the process with an unhandled rejection.
describe('restore without manifest: COPY rejected mid-block', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'review-script-'));
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails with the server error and leaves the target empty', async () => {
    const rows: string[] = ['1\tok', 'not-a-number\tbad'];
    // Enough rows after the bad one that the writer fills its buffer after the server gave up.
    const filler = 'x'.repeat(200);
    for (let i = 3; i < 200_000; i++) rows.push(`${i}\t${filler}`);
    const script = [
      'SET client_encoding = \'UTF8\';',
      'CREATE TABLE public.t (id integer, v text);',
      'COPY public.t (id, v) FROM stdin;',
      ...rows,
      '\\.',
      '',
    ].join('\n');
    const file = path.join(dir, '20261125T020000Z-abcdef12.sql.gz');
    await writeFile(file, zlib.gzipSync(Buffer.from(script), { level: 1 }));

    const outcome = await Promise.race([
      restoreBackup({ source: file, targetUrl: db.url, force: true }).then(
        () => ({ ok: true as const }),
        (err: unknown) => ({ ok: false as const, err: err as Error & { details?: { rolledBack?: boolean } } }),
      ),
      new Promise<{ ok: 'hung' }>((r) => setTimeout(() => r({ ok: 'hung' }), 30_000)),
    ]);
    expect(outcome.ok).toBe(false);
    if (outcome.ok !== false) return;
    expect(outcome.err.message).toMatch(/invalid input syntax for type integer/);
    expect(outcome.err.message).toMatch(/rolled back/);
    expect(outcome.err.details?.rolledBack).toBe(true);
    const n = await withClient(db.url, (c) => c.query(`SELECT to_regclass('public.t') AS t`));
    expect(n.rows[0].t).toBeNull();
  }, 60_000);

  it('a read error of the archive file fails the restore instead of hanging or crashing', async () => {
    // A path that opens but cannot be read (EISDIR): stands for a disk read error mid-file.
    const bad = path.join(dir, 'unreadable', '20261125T020000Z-abcdef13.sql.gz');
    await mkdir(bad, { recursive: true });
    const outcome = await Promise.race([
      restoreBackup({ source: bad, targetUrl: db.url, force: true }).then(
        () => ({ ok: true as const }),
        (err: unknown) => ({ ok: false as const, err: err as Error }),
      ),
      new Promise<{ ok: 'hung' }>((r) => setTimeout(() => r({ ok: 'hung' }), 15_000)),
    ]);
    expect(outcome.ok).toBe(false);
    if (outcome.ok !== false) return;
    expect(outcome.err.message).toMatch(/EISDIR|directory/i);
  }, 30_000);
});
