import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { tableHashes } from '../helpers/table-hashes';
import { localPgDumpMajor, pgDumpSchema, psqlFile, serverMajor } from '../helpers/schema-round-trip';
import { downloadArchive, gunzipIntoPsql } from './backup-test-helpers';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';

/**
 * The torture schema through the real engine: runBackup writes the archive, and nothing but
 * `gunzip -c | psql -v ON_ERROR_STOP=1` restores it into an empty database (the path an operator
 * takes). On PostgreSQL 17 this is where a partition with the parent's identity column used to
 * fail ("table ... being attached contains an identity column").
 */
const TORTURE = path.resolve(import.meta.dirname, '../fixtures/torture-schema.sql');
const SCHEMAS = ['public', 'Weird Name'];
const dbs: TestDatabase[] = [];
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'schema-dump-engine-'));
});
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
});

describe('dumpSchema through runBackup: torture schema', () => {
  it('restores with gunzip | psql into an empty database with identical catalogs and rows', async () => {
    const src = await createTestDatabase({ prefix: 'sde' });
    const target = await createTestDatabase({ prefix: 'sde' });
    dbs.push(src, target);
    await psqlFile(src.url, TORTURE);
    const storage = openStorage(path.join(tmp, 'store'));
    try {
      const r = await runBackup({ databaseUrl: src.url, storage, trigger: 'cli', schemas: SCHEMAS, excludeTableData: [], workers: 2, chunkBytes: 8192 });
      expect(r.status).toBe('succeeded');
      const file = path.join(tmp, `${r.id}.sql.gz`);
      await downloadArchive(storage, r.id, file);
      await gunzipIntoPsql(file, target.url);
    } finally {
      await storage.close();
    }

    expect(await catalogFingerprint(target.url)).toBe(await catalogFingerprint(src.url));
    expect(await tableHashes(target.url, SCHEMAS)).toEqual(await tableHashes(src.url, SCHEMAS));
    if (((await localPgDumpMajor()) ?? 0) >= (await serverMajor(src.url))) {
      expect(await pgDumpSchema(target.url)).toBe(await pgDumpSchema(src.url));
    }
    // The partitioned table's identity goes on where the source stopped (90 rows from 500 by 3).
    await withClient(target.url, async (c) => {
      expect((await c.query(`INSERT INTO public.tickets (sold_on) VALUES ('2027-05-05') RETURNING id`)).rows[0].id).toBe('770');
    });
  });
});
