import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { psqlFile } from '../helpers/schema-round-trip';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { runBackup } from '../../lib/backup/run-backup';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { commentsOf, wholeSchemaDump } from './every-path';
import { localPgDumpMajor, serverMajor } from '../helpers/schema-round-trip';

/**
 * `restore --mode replace` of a backup over the database it came from (last night's backup over
 * production), with the database-wide kinds a DROP SCHEMA does not remove: access methods, foreign
 * data wrappers, servers, user mappings, large objects, publications (test/fixtures/kitchen-sink.sql
 * and nasty-kinds.sql).
 */
const dbs: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it.each([
  ['kitchen-sink.sql', ['ks']],
  ['nasty-kinds.sql', ['k ind"s']],
  ['nasty-event-trigger.sql', ['ev']],
])('%s: a replace restore over the source itself gives the source back', async (fixture, schemas) => {
  const src = await createTestDatabase({ prefix: 'repk' });
  dbs.push(src);
  await psqlFile(src.url, path.resolve(import.meta.dirname, '../fixtures', fixture));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'repk-'));
  dirs.push(dir);
  const storage = openStorage(path.join(dir, 'store'));
  try {
    const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas, excludeTableData: [] });
    const los = async () => withClient(src.url, async (c) => (await c.query(`SELECT l.oid::int8 AS oid, pg_get_userbyid(l.lomowner) AS owner, l.lomacl::text AS acl,
      (SELECT md5(string_agg(p.data, ''::bytea ORDER BY p.pageno)) FROM pg_largeobject p WHERE p.loid = l.oid) AS md5 FROM pg_largeobject_metadata l ORDER BY 1`)).rows);
    const want = { los: await los(), fp: await catalogFingerprint(src.url, schemas), rows: await tableHashes(src.url, schemas), comments: await commentsOf(src.url) };
    const dump = ((await localPgDumpMajor()) ?? 0) >= (await serverMajor(src.url)) ? await wholeSchemaDump(src.url) : null;
    // Yesterday's state changed a little since the backup.
    const lo = { 'kitchen-sink.sql': 424242, 'nasty-kinds.sql': 454545, 'nasty-event-trigger.sql': 464646 }[fixture]!;
    await withClient(src.url, (c) => c.query(`SELECT lo_put(${lo}, 0, '\\x00')`));
    // A user mapping's password, never in a backup, survives the replace.
    const secret = async () => withClient(src.url, async (c) => (await c.query(`SELECT srvname, usename, umoptions FROM pg_user_mappings ORDER BY 1, 2`)).rows);
    const secrets = await secret();
    await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'replace' });
    expect(await catalogFingerprint(src.url, schemas)).toBe(want.fp);
    expect(await tableHashes(src.url, schemas)).toEqual(want.rows);
    expect(await commentsOf(src.url)).toEqual(want.comments);
    if (dump !== null) expect(await wholeSchemaDump(src.url)).toBe(dump);
    expect(await secret()).toEqual(secrets);
    expect(await los()).toEqual(want.los);
    // A data-only restore reloads table rows only, and says that it leaves the large objects alone.
    if (fixture === 'kitchen-sink.sql') {
      const d = await restoreBackup({ source: id, storage, targetUrl: src.url, mode: 'data-only', tables: ['ks.docs'] });
      expect(d.plan.actions).toContain('leave the 3 large objects alone (data-only reloads table rows; a fresh or replace restore brings them back)');
    }
    if (fixture === 'kitchen-sink.sql') expect(JSON.stringify(secrets)).toContain('do-not-leak-me');
  } finally {
    await storage.close();
  }
}, 300_000);
