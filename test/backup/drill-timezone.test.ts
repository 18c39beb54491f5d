import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, scalar, seedTicketHub, tempStorage } from './restore-test-helpers';

// COPY prints timestamptz in the session's TimeZone. The backup reads its source, and a drill or
// restore re-reads its target, each on a server/database with its own default zone: the content
// comparison must not depend on either (both sides pin the shared COPY output settings).
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'drltz' });
  await scalar(serverUrl(), `ALTER DATABASE "${src.name}" SET timezone = 'Africa/Addis_Ababa'`);
  await seedTicketHub(src.url, 60);
  // Instants whose printed form differs in every zone involved, including a DST boundary in New York.
  await exec(
    src.url,
    `CREATE TABLE public.tz_probe (id int PRIMARY KEY, at timestamptz NOT NULL, day date, local_at timestamp);
     INSERT INTO public.tz_probe VALUES
       (1, '2026-03-08 06:59:59+00', '2026-03-08', '2026-03-08 01:30:00'),
       (2, '2026-03-08 07:00:00+00', '2026-03-08', '2026-03-08 03:30:00'),
       (3, '2026-11-25 23:30:00+03', '2026-11-25', '2026-11-25 23:30:00'),
       (4, '1900-01-01 00:00:00+00', NULL, NULL)`,
  );
  expect(await scalar(src.url, `SHOW TimeZone`)).toBe('Africa/Addis_Ababa');
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
});

afterAll(async () => {
  await src?.drop();
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function withOptions(url: string, options: string): string {
  const u = new URL(url);
  u.searchParams.set('options', options);
  return u.toString();
}

describe('TimeZone-independent content comparison', () => {
  it('a drill into a database whose default TimeZone is America/New_York passes', async () => {
    const d = await createTestDatabase({ prefix: 'drltz' });
    try {
      await scalar(serverUrl(), `ALTER DATABASE "${d.name}" SET timezone = 'America/New_York'`);
      const r = await runDrill({ storage, id, drillUrl: d.url });
      expect(r.error).toBeNull();
      expect(r.ok).toBe(true);
      expect(r.tables.find((t) => t.name === 'tz_probe')).toMatchObject({ rows: 4, contentMatches: true });
      // The restored instants are the source's, whatever zone prints them.
      const at = await scalar<string>(d.url, `SELECT string_agg(extract(epoch FROM at)::bigint::text, ',' ORDER BY id) FROM public.tz_probe`);
      expect(at).toBe(await scalar<string>(src.url, `SELECT string_agg(extract(epoch FROM at)::bigint::text, ',' ORDER BY id) FROM public.tz_probe`));
    } finally {
      await d.drop();
    }
  });

  it('a scratch-database drill whose connection sets TimeZone=America/New_York passes', async () => {
    const r = await runDrill({ storage, id, serverUrl: withOptions(serverUrl(), '-c TimeZone=America/New_York') });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.tables.every((t) => t.contentMatches === true && t.rows === t.expectedRows)).toBe(true);
  });

  it('restore --jobs 2 into a database with another default TimeZone matches the manifest', async () => {
    const d = await createTestDatabase({ prefix: 'drltz' });
    try {
      await scalar(serverUrl(), `ALTER DATABASE "${d.name}" SET timezone = 'Pacific/Chatham'`);
      // The content re-read (the part that prints values) is what a TimeZone could upset.
      const r = await restoreParallel({ source: id, storage, targetUrl: d.url, jobs: 2, checkContent: true });
      expect(r.tables.every((t) => t.contentMatches === true && t.rows === t.expectedRows)).toBe(true);
      expect(r.tables.find((t) => t.name === 'tz_probe')?.rows).toBe(4);
    } finally {
      await d.drop();
    }
  });
});
