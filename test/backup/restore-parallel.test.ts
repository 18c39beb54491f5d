import { cp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { exec, hashesOf, scalar, schemaOf, seedTicketHub, tamperMember, tempStorage } from './restore-test-helpers';

// restore --jobs N schedules loads, per-table content checks and the tables' own keys/indexes as
// they become ready (indexes of a table right after its data, foreign keys and partition index
// attachments at the end). These tests give it what can go wrong with that order: tables split
// into many chunks (re-read by TID range on several connections), a partitioned table whose
// parent key/index must attach the leaves' ones, foreign keys onto unique keys, and a backup
// whose content does not match its manifest.
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let srcHashes: Record<string, { rows: number; hash: string }>;
let srcSchema: string;

async function db(): Promise<TestDatabase> {
  const d = await createTestDatabase({ prefix: 'rpar' });
  dbs.push(d);
  return d;
}

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'rpar' });
  dbs.push(src);
  await seedTicketHub(src.url, 400);
  await exec(
    src.url,
    `CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, code text NOT NULL, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
     CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
     CREATE TABLE public.events_2026 PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
     CREATE INDEX events_code ON public.events (code);
     INSERT INTO public.events SELECT g, date '2025-01-01' + (g % 700), 'c' || (g % 97), repeat('x', g % 300) FROM generate_series(1, 20000) g;
     CREATE TABLE public.codes (code text PRIMARY KEY, label text UNIQUE);
     INSERT INTO public.codes SELECT 'c' || g, 'label ' || g FROM generate_series(0, 96) g;
     CREATE TABLE public.event_refs (id serial PRIMARY KEY, code text NOT NULL REFERENCES public.codes (code), label text REFERENCES public.codes (label), note text);
     INSERT INTO public.event_refs (code, label, note) SELECT 'c' || (g % 97), 'label ' || (g % 97), md5(g::text) FROM generate_series(1, 30000) g;
     CREATE INDEX event_refs_note ON public.event_refs (note);`,
  );
  ({ storage, dir } = await tempStorage());
  srcHashes = await hashesOf(src.url);
  srcHashes['public.backup_runs'] = { rows: 0, hash: 'd41d8cd98f00b204e9800998ecf8427e' };
  srcSchema = await schemaOf(src.url);
  // Small chunks: the big tables become many members each.
  id = (await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', chunkBytes: 64 * 1024 })).id;
});

afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore --jobs N (parallel, not atomic)', () => {
  // jobs 2: the default (row counts by the server, no re-read); jobs 3: --check-content, whose
  // multi-chunk tables are re-read chunk by chunk by TID range on any free connection.
  it.each([
    [2, false],
    [3, true],
  ])('with %i connections (check content: %s) gives exactly the source: rows, content, schema, keys and indexes', async (jobs, checkContent) => {
    const t = await db();
    const r = await restoreParallel({ source: id, storage, targetUrl: t.url, jobs, checkContent });
    const multi = r.tables.find((x) => x.name === 'event_refs');
    expect(multi).toMatchObject({ rows: 30000, expectedRows: 30000, contentMatches: checkContent ? true : null });
    expect(r.tables.every((x) => x.contentMatches === (checkContent ? true : null) && x.rows === x.expectedRows)).toBe(true);
    expect(await hashesOf(t.url)).toEqual(srcHashes);
    expect(await schemaOf(t.url)).toEqual(srcSchema);
    // The partitioned parent's key and index own the leaves' ones, as in the source.
    expect(await scalar(t.url, `SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'i'`)).toBe(
      await scalar(src.url, `SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'i'`),
    );
    // Foreign keys are in force.
    await expect(exec(t.url, `INSERT INTO public.event_refs (code) VALUES ('nope')`)).rejects.toThrow(/foreign key/);
  });

  it('a backup whose restored content differs from the manifest fails naming the table and says the target is partial', async () => {
    const tdir = `${dir}-tampered`;
    await cp(dir, tdir, { recursive: true });
    const ts = openStorage(tdir);
    try {
      // Every checksum agrees with the edited definition; only the re-read can tell.
      await tamperMember(tdir, id, (e) => e.kind === 'TABLE' && e.name === 'trips', (sql) => sql.replace('numeric(10,2)', 'numeric(10,0)'));
      const t = await db();
      const err = await restoreParallel({ source: id, storage: ts, targetUrl: t.url, jobs: 2, checkContent: true }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'verification_failed' });
      expect((err as Error).message).toMatch(/public\.trips/);
      expect((err as Error).message).toMatch(/PARTLY restored; drop and recreate it/);
      expect((err as Error).message).not.toMatch(/\n/);
    } finally {
      await ts.close();
      await rm(tdir, { recursive: true, force: true });
    }
  });
});
