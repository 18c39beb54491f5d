import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { localPgDumpMajor, psqlFile, serverMajor } from '../helpers/schema-round-trip';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { manifestKey, type Manifest } from '../../lib/backup/manifest';
import { openStorage } from '../../lib/storage/open-storage';
import { commentsOf, wholeSchemaDump } from './every-path';

/**
 * The held-out fixtures through the restore modes that work on a live database: last night's backup
 * replaces the schemas it came from after the day changed them (rows deleted, an object dropped),
 * then every table is reloaded data-only (named SQL-quoted, as names with edge spaces need), then
 * each schema's tables are copied --into-schema next to them (the copies hold the same rows). Each
 * time the backed-up schemas are the backup's again: catalog fingerprint, comments, whole-database
 * pg_dump -s and every table's rows. (nasty-held-out.sql's rows break NOT VALID constraints of a
 * table and a domain: the data-only reload failed on them.)
 */
const dbs: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it.each([
  ['nasty-held-out.sql', ['held out']],
  ['nasty-held-out-more.sql', ['hx', 'Public', 'public ', 'public', 'hy', 'ext "s', 'hz', 'hw', 'hw_before_schema', 'hv']],
  ['nasty-acl-edges.sql', ['a cl']],
  ['h1-supabase-shapes.sql', ['auth', 'app', 'priv']],
  ['comments-everywhere.sql', ['cm']],
  ['nasty-held-out-3.sql', ['s1', 's2', 's3']],
  ['nasty-held-out-4.sql', ['s4', 's5']],
  ['nasty-held-out-5.sql', ['s6', 's7']],
  ['nasty-held-out-6.sql', ['s8', 's9']],
  ['nasty-held-out-7.sql', ['r1', 'r2']],
  ['nasty-held-out-8.sql', ['app8', 'aux8', 'ቲኬት 8', 'h8types']],
  ['nasty-held-out-9.sql', ['app9', 'aux9', 'ext9']],
  ['nasty-held-out-10.sql', ['s10', 't10']],
  ['nasty-held-out-11.sql', ['s11', 'f11']],
  ['nasty-held-out-12.sql', ['c12']],
  ['nasty-held-out-13.sql', ['w13']],
  ['nasty-held-out-14.sql', ['p14']],
  ['nasty-held-out-15.sql', ['pg15s']],
])('%s: replace over the changed source, then a data-only reload of every table, give the backup back', async (fixture, schemas) => {
  const src = await createTestDatabase({ prefix: 'hom' });
  dbs.push(src);
  await psqlFile(src.url, path.resolve(import.meta.dirname, '../fixtures', fixture));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hom-'));
  dirs.push(dir);
  const storage = openStorage(path.join(dir, 'store'));
  try {
    const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas, excludeTableData: [] });
    const m = JSON.parse(await readFile(path.join(dir, 'store', manifestKey(id)), 'utf8')) as Manifest;
    const state = async () => ({
      fp: await catalogFingerprint(src.url, schemas),
      rows: await tableHashes(src.url, schemas),
      comments: await commentsOf(src.url),
      dump: ((await localPgDumpMajor()) ?? 0) >= (await serverMajor(src.url)) ? await wholeSchemaDump(src.url) : null,
    });
    const want = await state();
    // The day's changes: every table loses its rows (triggers and keys as they come), and an
    // index of its own (not a key's, not a partition's) is dropped.
    const withRows = m.tables.filter((t) => t.rows > 0 && !t.dataExcluded);
    expect(withRows.length).toBeGreaterThanOrEqual(1);
    await withClient(src.url, async (c) => {
      await c.query(`SET session_replication_role = replica`);
      for (const t of withRows) await c.query(`DELETE FROM ONLY ${quote(t.schema)}.${quote(t.name)}`);
      const idx = await c.query<{ i: string }>(
        `SELECT i.indexrelid::regclass::text AS i FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
          WHERE c.relnamespace = ANY($1::regnamespace[]) AND c.relkind = 'r'
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid) ORDER BY 1 LIMIT 1`,
        [schemas.map(quote)],
      );
      for (const r of idx.rows) await c.query(`DROP INDEX ${r.i}`);
    });
    expect((await state()).rows).not.toEqual(want.rows);

    await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'replace' });
    expect(await state(), 'replace').toEqual(want);

    await withClient(src.url, async (c) => {
      await c.query(`SET session_replication_role = replica`);
      for (const t of withRows) await c.query(`DELETE FROM ONLY ${quote(t.schema)}.${quote(t.name)}`);
    });
    // Named as SQL quotes them: "public "."public " is a table of nasty-held-out-more.sql.
    const r = await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: withRows.map((t) => `${quote(t.schema)}.${quote(t.name)}`) });
    expect(r.tables.map((t) => `${t.schema}.${t.name}`).sort()).toEqual(withRows.map((t) => `${t.schema}.${t.name}`).sort());
    expect(await state(), 'data-only').toEqual(want);

    // --into-schema: each schema's tables copied next to the live data hold the same rows.
    for (const [i, schema] of schemas.entries()) {
      const mine = withRows.filter((t) => t.schema === schema);
      if (!mine.length) continue;
      const into = `copy_${i}`;
      await restoreBackup({ source: id, storage, targetUrl: src.url, intoSchema: into, tables: mine.map((t) => `${quote(t.schema)}.${quote(t.name)}`) });
      const copies = await tableHashes(src.url, [into]);
      expect(new Map([...copies].map(([k, v]) => [k.slice(into.length + 1), v])), `into-schema ${schema}`).toEqual(
        new Map([...want.rows].filter(([k]) => mine.some((t) => `${t.schema}.${t.name}` === k)).map(([k, v]) => [k.slice(schema.length + 1), v])),
      );
    }
    const after = await state();
    expect({ fp: after.fp, rows: after.rows }, 'after --into-schema').toEqual({ fp: want.fp, rows: want.rows });
  } finally {
    await storage.close();
  }
}, 300_000);

function quote(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
