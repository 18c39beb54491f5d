import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { expect } from 'vitest';
import { createTestDatabase, serverUrl, withClient, type TestDatabase } from '../helpers/db';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { localPgDumpMajor, psqlFile, serverMajor } from '../helpers/schema-round-trip';
import { securityOf } from '../security/security-oracle';
import { downloadArchive, gunzipIntoPsql } from './backup-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { verifyBackup } from '../../lib/backup/verify';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { openStorage } from '../../lib/storage/open-storage';

/**
 * Takes a fixture (test/fixtures/*.sql) through every path a held-out database would take: a
 * backup that verifies and passes its drill, then our restore, `restore --jobs 2` and
 * `gunzip | psql`, each compared with the source by pg_dump -s WITH owners and privileges (the
 * catalog listing on 17), the catalog fingerprint, every comment (pg_description and
 * pg_shdescription by object identity: publications, event triggers, large objects ... which
 * pg_dump -n does not print) and every table's rows.
 */
export async function roundTripEveryPath(fixture: string, schemas: string[], cleanup: (() => Promise<unknown>)[]): Promise<{ source: TestDatabase }> {
  const db = async () => {
    const d = await createTestDatabase({ prefix: 'every' });
    cleanup.push(() => d.drop());
    return d;
  };
  const src = await db();
  await psqlFile(src.url, path.resolve(import.meta.dirname, '../fixtures', fixture));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'every-path-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = openStorage(path.join(dir, 'store'));
  try {
    const { id } = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas, excludeTableData: [] });
    expect((await verifyBackup(storage, id)).problems).toEqual([]);
    const drill = await runDrill({ storage, id, serverUrl: serverUrl() });
    expect(drill.error).toBeNull();
    expect(drill.ok).toBe(true);

    const ours = await db();
    await restoreBackup({ source: id, storage, targetUrl: ours.url, mode: 'fresh' });
    await expectSame(src, ours, schemas, 'our restore');

    const jobs = await db();
    await restoreParallel({ source: id, storage, targetUrl: jobs.url, jobs: 2 });
    await expectSame(src, jobs, schemas, 'restore --jobs 2');

    const file = path.join(dir, `${id}.sql.gz`);
    await downloadArchive(storage, id, file);
    const viaPsql = await db();
    await gunzipIntoPsql(file, viaPsql.url);
    await expectSame(src, viaPsql, schemas, 'gunzip | psql');
  } finally {
    await storage.close();
  }
  return { source: src };
}

export async function expectSame(source: TestDatabase, target: TestDatabase, schemas: string[], what: string): Promise<void> {
  expect(await commentsOf(target.url), `${what}: comments`).toEqual(await commentsOf(source.url));
  if (((await localPgDumpMajor()) ?? 0) >= (await serverMajor(source.url))) {
    expect(await wholeSchemaDump(target.url), `${what}: pg_dump -s of the whole database`).toBe(await wholeSchemaDump(source.url));
  }
  expect(await securityOf(target.url, { schemas }), `${what}: pg_dump -s with owners and privileges`).toBe(await securityOf(source.url, { schemas }));
  expect(await catalogFingerprint(target.url, schemas), `${what}: catalog fingerprint`).toBe(await catalogFingerprint(source.url, schemas));
  expect(await tableHashes(target.url, schemas), `${what}: rows`).toEqual(await tableHashes(source.url, schemas));
}

/**
 * Every comment on a user object of the database (oid >= 16384; large objects by their oid, which a
 * restore keeps), as 'type identity: text' — pg_identify_object names the object the same way in
 * any database, whatever its oid.
 */
export async function commentsOf(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    await c.query(`SET search_path = ''`);
    const r = await c.query<{ l: string }>(
      `SELECT concat(o.type, ' ', o.identity, ': ', d.description) AS l
         FROM (SELECT classoid, objoid, objsubid, description FROM pg_catalog.pg_description
               UNION ALL SELECT classoid, objoid, 0, description FROM pg_catalog.pg_shdescription
                WHERE classoid <> 'pg_catalog.pg_database'::regclass AND classoid <> 'pg_catalog.pg_authid'::regclass) d,
              LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o
        WHERE d.objoid >= 16384 ORDER BY 1`,
    );
    return r.rows.map((x) => x.l);
  });
}

/**
 * `pg_dump --schema-only` of the whole database, owners and privileges included: unlike `-n` it
 * prints event triggers, publications (with row filters and column lists), foreign data wrappers,
 * servers, user mappings (their options are never backed up: left out here), large objects' owners
 * and ACLs, extensions. Banner and \\restrict lines left out.
 */
export async function wholeSchemaDump(url: string): Promise<string> {
  const { stdout } = await promisify(execFile)('pg_dump', ['--schema-only', '-d', url], { maxBuffer: 64 << 20 });
  return stdout
    // Options are printed one per line between 'OPTIONS (' and a line ');'; role and server names may hold spaces.
    .replace(/^CREATE USER MAPPING FOR (.+?) SERVER (.+?) OPTIONS \(\n[\s\S]*?\n\);$/gm, 'CREATE USER MAPPING FOR $1 SERVER $2;')
    .split('\n')
    .filter((l) => !/^\\(un)?restrict /.test(l) && !/^-- Dumped (from|by) /.test(l))
    .join('\n');
}
