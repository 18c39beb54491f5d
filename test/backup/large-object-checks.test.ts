import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, withClient, type TestDatabase } from '../helpers/db';
import { backup, tamperMember, tempStorage } from './restore-test-helpers';
import { verifyBackup } from '../../lib/backup/verify';
import { runDrill } from '../../lib/backup/drill';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * Large objects are checksummed like table data: the manifest records each one's size and SHA-256.
 * A backup whose large-object member was changed (every member and archive checksum fixed up, so
 * only the content comparison can tell) fails verify, naming the object, and fails the drill.
 */
const dbs: TestDatabase[] = [];
let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;
let oid: number;

beforeAll(async () => {
  src = await createTestDatabase({ prefix: 'lochk' });
  dbs.push(src);
  oid = await withClient(src.url, async (c) => {
    await c.query('CREATE TABLE public.docs (id int PRIMARY KEY, doc oid)');
    const r = await c.query<{ oid: string }>(`SELECT lo_from_bytea(0, decode(repeat('0123456789abcdef', 4096), 'hex'))::int8::text AS oid`);
    await c.query('INSERT INTO public.docs VALUES (1, $1)', [r.rows[0].oid]);
    return Number(r.rows[0].oid);
  });
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
}, 300_000);
afterAll(async () => {
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  for (const d of dbs) await d.drop().catch(() => undefined);
});

describe('large objects whose content differs from the manifest', () => {
  it('an intact backup verifies and drills', async () => {
    expect((await verifyBackup(storage, id)).problems).toEqual([]);
    const d = await runDrill({ storage, id, serverUrl: serverUrl() });
    expect(d.error).toBeNull();
    expect(d.ok).toBe(true);
  }, 180_000);

  it('fail verify (naming the object) and the drill when a large object member was changed with its checksums fixed up', async () => {
    await tamperMember(dir, id, (e) => e.kind === 'LARGE OBJECTS', (sql) => sql.replace(/('\\x)([0-9a-f]{2})/, (_m, p: string, h: string) => `${p}${h === '00' ? '01' : '00'}`));
    const v = await verifyBackup(storage, id);
    expect(v.ok).toBe(false);
    // Only the content comparison finds it: every member's checksum agrees.
    expect(v.problems.map((p) => p.kind)).toEqual(['LARGE OBJECT']);
    expect(v.problems[0].problem).toMatch(new RegExp(`^large object ${oid}: the archive's content \\(32768 bytes\\) does not match the manifest's SHA-256`));
    const d = await runDrill({ storage, id, serverUrl: serverUrl() });
    expect(d.ok).toBe(false);
    expect(d.error).toMatch(new RegExp(`^restored large objects differ from the backup: large object ${oid} differs`));
  }, 180_000);
});
