import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { runBackup } from '../../lib/backup/run-backup';
import { archiveKey } from '../../lib/backup/manifest';
import { COPY_BATCH_TABLES } from '../../lib/backup/copy-chunk';
import { SMALL_MEMBER_BYTES } from '../../lib/backup/archive-writer';
import { HELPER_CHUNKS_PER_TRANSACTION } from '../../lib/backup/worker-locks';
import { tempStorage } from './restore-test-helpers';
import { tableHashes } from '../helpers/table-hashes';

// A backup reads runs of small tables with one query per batch (copy-batch.ts). Each table must
// still come out exactly as its own COPY would give it — whatever its name or data, wherever it
// falls in a batch, also when a "small" table's TOAST hides megabytes of text — and a failing
// statement in the middle of a batch must fail the backup naming ITS table.

let src: TestDatabase;
let dst: TestDatabase;
const role = `copybatch_${randomBytes(4).toString('hex')}`;
// More than one batch and more than one helper transaction's worth of tables.
const SMALL = COPY_BATCH_TABLES + HELPER_CHUNKS_PER_TRANSACTION + 37;
const NASTY = ['t;COPY x TO STDOUT', 'Tab\tle', 'ሰንጠረዥ "q"', 'a\\.b'];
const qi = (s: string) => `"${s.replace(/"/g, '""')}"`;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'copybatch' });
  dst = await createTestDatabase({ prefix: 'copybatch_dst' });
  await withClient(src.url, async (c) => {
    await c.query(`DO $$ BEGIN FOR i IN 1..${SMALL} LOOP
      EXECUTE format('CREATE TABLE public.%I (id int PRIMARY KEY, body text, n numeric)', 's' || lpad(i::text, 4, '0'));
      EXECUTE format($q$INSERT INTO public.%I SELECT g, CASE g %% 4 WHEN 0 THEN NULL WHEN 1 THEN E'tab\\there\\nnew line\\\\ back' WHEN 2 THEN E'\\\\.\\n\\\\.' ELSE 'ሰላም ' || g END, g * 1.5 FROM generate_series(1, 1 + %s %% 7) g$q$, 's' || lpad(i::text, 4, '0'), i);
    END LOOP; END $$`);
    for (const [i, name] of NASTY.entries()) {
      await c.query(`CREATE TABLE public.${qi(name)} (${qi(`c${name}`)} text, k int)`);
      await c.query(`INSERT INTO public.${qi(name)} VALUES ($1, ${i}), (NULL, NULL)`, [`value of ${name}\r\n\\N`]);
    }
    await c.query(`CREATE TABLE public.s_empty (id int)`);
    await c.query(`CREATE TABLE public.s_nocols ()`);
    await c.query(`INSERT INTO public.s_nocols DEFAULT VALUES; INSERT INTO public.s_nocols DEFAULT VALUES`);
    // Small by its heap, tens of megabytes of COPY text in its TOAST.
    await c.query(`CREATE TABLE public.s_toasty (id int, v text)`);
    await c.query(`INSERT INTO public.s_toasty SELECT 1, repeat('ab ', 13000000) || string_agg(md5(g::text), '') FROM generate_series(1, 3000) g`);
    await c.query(`INSERT INTO public.s_toasty VALUES (2, 'short')`);
  });
});
afterAll(async () => {
  await src?.drop().catch(() => {});
  await dst?.drop().catch(() => {});
  await withClient(src.url.replace(/\/[^/]*$/, '/postgres'), (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {});
});

async function psqlArchive(file: string, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const p = execFile('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], { maxBuffer: 64 << 20 }, (err) => (err ? reject(err) : resolve()));
    createReadStream(file).pipe(createGunzip()).pipe(p.stdin!);
  });
}

describe('batched COPY of small tables', () => {
  it('every table, batched or not, comes back exactly (gunzip | psql), with its row count in the manifest', async () => {
    const sizes = await withClient(src.url, async (c) => (await c.query(`SELECT pg_relation_size(c.oid) AS heap, pg_relation_size(c.reltoastrelid) AS toast FROM pg_class c WHERE c.oid = 'public.s_toasty'::regclass`)).rows[0]);
    expect(Number(sizes.heap)).toBeLessThanOrEqual(SMALL_MEMBER_BYTES); // so it really is read inside a batch
    expect(Number(sizes.toast)).toBeGreaterThan(SMALL_MEMBER_BYTES);
    const { storage, dir } = await tempStorage();
    const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', workers: 2 });
    expect(r.status).toBe('succeeded');
    await psqlArchive(path.join(dir, archiveKey(r.id)), dst.url);
    const want = await tableHashes(src.url);
    const got = await tableHashes(dst.url);
    expect(got.size).toBe(SMALL + NASTY.length + 3);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
    const rows = [...want.values()].reduce((s, t) => s + t.rows, 0);
    expect(r.rows).toBe(rows);
    expect(await withClient(dst.url, async (c) => (await c.query(`SELECT length(v) AS n FROM public.s_toasty WHERE id = 1`)).rows[0].n)).toBe(39000000 + 3000 * 32);
  });

  it('a statement failing in the middle of a batch fails the backup naming its table', async () => {
    // Row security makes the COPY itself fail (LOCK TABLE, which only needs SELECT, succeeds).
    const victim = `s${String(COPY_BATCH_TABLES + 40).padStart(4, '0')}`;
    await withClient(src.url, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'copy-batch-pw'`);
      await c.query(`GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      await c.query(`ALTER TABLE public.${victim} ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.${victim} USING (id > 2)`);
    });
    const { storage } = await tempStorage();
    const u = new URL(src.url);
    u.username = role;
    u.password = 'copy-batch-pw';
    const err = await runBackup({ databaseUrl: u.toString(), storage, trigger: 'cli', workers: 2 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`reading table public.${victim} failed`);
    expect((err as Error).message).toMatch(/row-level security/);
    expect((err as Error).message).not.toMatch(/\n/);
    expect(await storage.list()).toEqual([]);
  });
});
