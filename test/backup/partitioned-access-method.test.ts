import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serverUrl, withClient } from '../helpers/db';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { serverMajor } from '../helpers/schema-round-trip';
import { tempDir } from '../helpers/temp-dirs';
import { runBackup } from '../../lib/backup/run-backup';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { downloadArchive, gunzipIntoPsql } from './backup-test-helpers';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../lib/db/embedded';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * PostgreSQL 17 gives a partitioned table an access method of its own (CREATE TABLE ... PARTITION
 * BY ... USING am, ALTER TABLE ... SET ACCESS METHOD): the one its future partitions get. The
 * backup left it out (only plain tables and materialized views had USING), so a restore's new
 * partitions got the server default instead, and the drill did not compare it: green.
 * On PostgreSQL 17 (the test server, or the embedded one when the test server is 15).
 */
let pg17: EmbeddedDatabase | undefined;
let server: string;
let storage: StorageBackend;
let dir: string;
const created: string[] = [];

async function createDb(): Promise<string> {
  const name = `pam_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withClient(server, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`));
  created.push(name);
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

beforeAll(async () => {
  dir = await tempDir('pam-');
  storage = openStorage(path.join(dir, 'store'));
  if ((await serverMajor(serverUrl())) >= 17) server = serverUrl();
  else {
    await chmod(dir, 0o777);
    pg17 = await startEmbeddedPostgres(path.join(dir, 'pg17'), { quiet: true });
    server = pg17.url;
  }
  expect(await serverMajor(server)).toBeGreaterThanOrEqual(17);
}, 300_000);

afterAll(async () => {
  await storage?.close();
  for (const d of created) await withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`)).catch(() => undefined);
  await pg17?.stop();
});

it('a partitioned table keeps its access method (and its partitions theirs) by every path; a drill compares it', async () => {
  const src = await createDb();
  await withClient(src, (c) =>
    c.query(`
      CREATE ACCESS METHOD "heap ""2""" TYPE TABLE HANDLER heap_tableam_handler;
      CREATE SCHEMA pam;
      CREATE TABLE pam.explicit_heap (a int) PARTITION BY LIST (a);
      ALTER TABLE pam.explicit_heap SET ACCESS METHOD heap;
      CREATE TABLE pam.custom (a int, t text) PARTITION BY LIST (a) USING "heap ""2""";
      CREATE TABLE pam.custom_1 PARTITION OF pam.custom FOR VALUES IN (1);
      CREATE TABLE pam.custom_2 PARTITION OF pam.custom FOR VALUES IN (2) USING heap;
      CREATE TABLE pam.plain (a int) PARTITION BY LIST (a);
      INSERT INTO pam.custom VALUES (1, 'one'), (2, 'two');`),
  );
  const ams = (url: string) =>
    withClient(url, async (c) =>
      (await c.query(`SELECT c.relname || '=' || coalesce(a.amname, '-') AS x FROM pg_class c LEFT JOIN pg_am a ON a.oid = c.relam
                       WHERE c.relnamespace = 'pam'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`)).rows.map((r) => r.x),
    );
  expect(await ams(src)).toEqual(['custom=heap "2"', 'custom_1=heap "2"', 'custom_2=heap', 'explicit_heap=heap', 'plain=-']);
  const { id } = await runBackup({ databaseUrl: src, storage, trigger: 'cli', schemas: ['pam'], excludeTableData: [] });
  const drill = await runDrill({ storage, id, serverUrl: server });
  expect(drill.error).toBeNull();

  const targets: [string, string][] = [];
  const ours = await createDb();
  await restoreBackup({ source: id, storage, targetUrl: ours, mode: 'fresh' });
  targets.push(['our restore', ours]);
  const jobs = await createDb();
  await restoreParallel({ source: id, storage, targetUrl: jobs, jobs: 2 });
  targets.push(['restore --jobs 2', jobs]);
  const file = path.join(dir, `${id}.sql.gz`);
  await downloadArchive(storage, id, file);
  const viaPsql = await createDb();
  await gunzipIntoPsql(file, viaPsql);
  targets.push(['gunzip | psql', viaPsql]);
  for (const [what, t] of targets) {
    expect(await ams(t), what).toEqual(await ams(src));
    expect(await catalogFingerprint(t, ['pam']), what).toBe(await catalogFingerprint(src, ['pam']));
    expect(await tableHashes(t, ['pam']), what).toEqual(await tableHashes(src, ['pam']));
  }
  // A new partition takes the partitioned table's access method.
  await withClient(ours, (c) => c.query(`CREATE TABLE pam.custom_3 PARTITION OF pam.custom FOR VALUES IN (3)`));
  expect(await ams(ours)).toContain('custom_3=heap "2"');

  // The drill's fingerprint sees a lost one.
  const lost = await createDb();
  await restoreBackup({ source: id, storage, targetUrl: lost, mode: 'fresh' });
  await withClient(lost, (c) => c.query(`ALTER TABLE pam.custom SET ACCESS METHOD DEFAULT`));
  const { fingerprintDifferences, schemaFingerprint } = await import('../../lib/backup/catalog/schema-fingerprint');
  const fp = (url: string) => withClient(url, (c) => schemaFingerprint(c, ['pam']));
  expect(fingerprintDifferences(await fp(src), await fp(lost), { deparsed: false }).problems).toEqual(['relation pam.custom differs (definition, owner or privileges)']);
}, 300_000);
