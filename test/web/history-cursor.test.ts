import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupHistory, decodeCursor, encodeCursor } from '../../lib/queries/backups';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'hcur' });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // Five finished runs started within ONE millisecond (microseconds apart), ids in the other order
  // than their start times, plus one a second earlier.
  await withClient(db.url, (c) =>
    c.query(`INSERT INTO public.backup_runs (id, trigger, status, started_at, finished_at)
             SELECT '20261202T053800Z-' || chr(ascii('z') - g), 'cli', 'succeeded',
                    timestamptz '2026-12-02 05:38:00.123000+00' + g * interval '1 microsecond', now()
               FROM generate_series(1, 5) g
             UNION ALL
             SELECT '20261202T053759Z-a', 'cli', 'succeeded', timestamptz '2026-12-02 05:37:59+00', now()`),
  );
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('backup history cursor', () => {
  it('pages one row at a time through runs started within the same millisecond, each exactly once, newest first', async () => {
    const seen: string[] = [];
    let before: ReturnType<typeof decodeCursor> | undefined;
    for (let page = 0; page < 10; page++) {
      const rows = await backupHistory(pool, { limit: 1, before: before ?? undefined });
      if (rows.length === 0) break;
      seen.push(rows[0].id);
      before = decodeCursor(encodeCursor(rows[0]));
      expect(before).not.toBeNull();
    }
    expect(seen).toEqual(['20261202T053800Z-u', '20261202T053800Z-v', '20261202T053800Z-w', '20261202T053800Z-x', '20261202T053800Z-y', '20261202T053759Z-a']);
  });

  it('the position keeps the microseconds a Date drops', async () => {
    const [row] = await backupHistory(pool, { limit: 1 });
    expect(row.position).toBe('2026-12-02T05:38:00.123005Z');
    expect(row.startedAt.toISOString()).toBe('2026-12-02T05:38:00.123Z');
  });

  it('a forged cursor whose time JavaScript parses but PostgreSQL does not is refused (400), never a 500 from the query', async () => {
    const forge = (at: string) => Buffer.from(`${at}|20261202T053800Z-u`, 'utf8').toString('base64url');
    for (const at of ['1', '0', '-1', 'Tuesday 1', '2020-02-30', '2020-01-01T24:00:00Z', '+275760-09-13T00:00:00Z', 'Jan 1 1900 GMT+0100', '2026-12-02 05:38:00']) {
      const c = decodeCursor(forge(at));
      if (c) await expect(backupHistory(pool, { limit: 1, before: c }), at).resolves.toBeDefined();
      expect(c, at).toBeNull();
    }
    // What the API hands out still decodes: microseconds (position) and milliseconds (toISOString).
    expect(decodeCursor(forge('2026-12-02T05:38:00.123005Z'))).toEqual({ startedAt: '2026-12-02T05:38:00.123005Z', id: '20261202T053800Z-u' });
    expect(decodeCursor(forge('2026-12-02T05:38:00.123Z'))).not.toBeNull();
  });
});
