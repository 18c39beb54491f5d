import { cp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill, scheduledDrillDue, drillPolicyFromEnv } from '../../lib/backup/drill';
import { verifyBackup } from '../../lib/backup/verify';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, scalar, seedTicketHub, tamperMember, tempStorage } from './restore-test-helpers';

let src: TestDatabase;
let storage: StorageBackend;
let dir: string;
let id: string;

/** Scratch databases of THIS file's backup (named after its id), so drills of other test files running
 *  on the same server at the same time don't disturb the count. */
/**
 * Whether the scratch database a drill reports (`scratch database <name> (created and dropped)`)
 * still exists. Its own name, not a count by prefix: a drill of another test file started in the
 * same second shares the prefix (backup id to the second) and would come and go meanwhile.
 */
async function scratchLeft(r: { target: string }): Promise<boolean> {
  const name = /^scratch database (\S+) \(created and dropped\)$/.exec(r.target)?.[1];
  expect(name, r.target).toMatch(/^tickethub_drill_/);
  return (await scalar<number>(serverUrl(), `SELECT count(*)::int FROM pg_database WHERE datname = '${name!.replace(/'/g, "''")}'`)) > 0;
}

beforeAll(async () => {
  src = await createTestDatabase({ migrate: true, prefix: 'drl' });
  await seedTicketHub(src.url, 300);
  ({ storage, dir } = await tempStorage());
  id = await backup(src.url, storage);
});

afterAll(async () => {
  await src?.drop();
  await storage?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore drills', () => {
  it('passes on a fresh backup, drops its scratch database and records the result in backup_runs', async () => {
    const r = await runDrill({ storage, id, serverUrl: serverUrl(), recordUrl: src.url });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.tables.length).toBeGreaterThan(9);
    expect(r.tables.every((t) => t.contentMatches && t.rows === t.expectedRows)).toBe(true);
    expect(r.recorded).toBe(true);
    expect(await scratchLeft(r)).toBe(false);
    const drill = await scalar<{ ok: boolean }>(src.url, `SELECT drill FROM backup_runs WHERE id = '${id}' AND drill_at IS NOT NULL`);
    expect(drill.ok).toBe(true);
  });

  it('fails on a tampered backup whose checksums were all fixed up (only the content comparison can tell)', async () => {
    const tdir = `${dir}-tampered`;
    await cp(dir, tdir, { recursive: true });
    const ts = openStorage(tdir);
    try {
      // numeric(10,2) -> numeric(10,0): every price loads rounded. Archive and member checksums
      // agree with the tampered bytes, so verify (no database) cannot see it.
      await tamperMember(tdir, id, (e) => e.kind === 'TABLE' && e.name === 'trips', (sql) => sql.replace('numeric(10,2)', 'numeric(10,0)'));
      expect((await verifyBackup(ts, id)).ok).toBe(true);
        const r = await runDrill({ storage: ts, id, serverUrl: serverUrl() });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/public\.trips: content hash differs/);
      expect(r.tables.find((t) => t.name === 'trips')?.contentMatches).toBe(false);
      expect(await scratchLeft(r)).toBe(false);
    } finally {
      await ts.close();
      await rm(tdir, { recursive: true, force: true });
    }
  });

  it('fails when rows were changed and the member hashes fixed up, but not the recorded table fingerprint', async () => {
    const tdir = `${dir}-rows`;
    await cp(dir, tdir, { recursive: true });
    const ts = openStorage(tdir);
    try {
      await tamperMember(tdir, id, (e) => e.section === 'table-data' && e.name === 'trips', (text) => text.replace(/\tscheduled\t/, '\tcancelled\t'), { keepTableHash: true });
      const v = await verifyBackup(ts, id);
      expect(v.problems.map((p) => p.problem).join('\n')).toMatch(/table content hash does not match/);
      const r = await runDrill({ storage: ts, id, serverUrl: serverUrl() });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/inconsistent|content hash/);
    } finally {
      await ts.close();
      await rm(tdir, { recursive: true, force: true });
    }
  });

  it('uses an empty DRILL_DATABASE_URL and refuses a non-empty one', async () => {
    const d = await createTestDatabase({ prefix: 'drl' });
    try {
      // A target whose session defaults print dates and intervals differently must still match.
      await scalar(serverUrl(), `ALTER DATABASE "${d.name}" SET DateStyle = 'SQL, DMY'`);
      await scalar(serverUrl(), `ALTER DATABASE "${d.name}" SET IntervalStyle = 'sql_standard'`);
      const r = await runDrill({ storage, id, drillUrl: d.url });
      expect(r.error).toBeNull();
      expect(r.ok).toBe(true);
      await expect(runDrill({ storage, id, drillUrl: d.url })).rejects.toMatchObject({ code: 'conflict' });
    } finally {
      await d.drop();
    }
  });

  it('schedules drills by policy', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(scheduledDrillDue('off', null, now)).toBe(false);
    expect(scheduledDrillDue('weekly', null, now)).toBe(true);
    expect(scheduledDrillDue('weekly', '2026-11-19T12:00:01Z', now)).toBe(false);
    expect(scheduledDrillDue('weekly', '2026-11-18T12:00:00Z', now)).toBe(true);
    expect(scheduledDrillDue('daily', '2026-11-24T12:00:01Z', now)).toBe(false);
    expect(scheduledDrillDue('daily', '2026-11-24T12:00:00Z', now)).toBe(true);
    expect(scheduledDrillDue('daily', '2026-12-01T00:00:00Z', now)).toBe(true); // clock went back
    expect(drillPolicyFromEnv({} as unknown as NodeJS.ProcessEnv)).toBe('weekly');
    expect(drillPolicyFromEnv({ BACKUP_DRILL: 'daily' } as unknown as NodeJS.ProcessEnv)).toBe('daily');
    expect(() => drillPolicyFromEnv({ BACKUP_DRILL: 'hourly' } as unknown as NodeJS.ProcessEnv)).toThrow(/BACKUP_DRILL/);
  });
});
