import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTableExport } from '../../lib/queries/table-export';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { parseCsv } from '../helpers/csv-oracle';

// The export's own COPY reader (copy-out-csv.ts) takes the connection's socket over for the COPY:
// what happens to the connection when the download stops early or the server fails the COPY.
const ROWS = 200_000;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  await withClient(db.url, (c) =>
    c.query(`INSERT INTO activity_logs (action, entity_type, entity_id, description, metadata, created_at)
      SELECT 'TICKET_SOLD', 'ticket', g::text, repeat('ሰላም, "x" ', 20) || g, jsonb_build_object('g', g), timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series(1, ${ROWS}) g`),
  );
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** Waits until the server no longer lists a session of this database other than `except`. */
async function sessionsGone(except: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const n = await withClient(db.url, async (c) => Number((await c.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1`, [except])).rows[0].n));
    if (n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the export session is still open');
}

describe('export stream and its connection', () => {
  it('reads to the end: every row, then the connection goes back to the pool and works', async () => {
    const exp = await openTableExport(pool, { tables: ['activity_logs'], format: 'csv', timeZone: 'UTC' });
    const parts: Uint8Array[] = [];
    for await (const chunk of exp.stream as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
    const lines = Buffer.concat(parts).toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length - 1).toBe(ROWS);
    const head = parseCsv(lines[0])[0];
    const last = parseCsv(lines[ROWS])[0];
    expect(last[head.indexOf('entity_id')]).toBe(String(ROWS));
    expect(last[head.indexOf('created_at')]).toBe('2025-01-03T07:33:20+00:00');
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect(pool.totalCount).toBe(1);
  });

  it('a download cancelled mid-COPY discards the connection (session ends) and the pool serves the next query', async () => {
    const exp = await openTableExport(pool, { tables: ['activity_logs'], format: 'csv' });
    const reader = exp.stream.getReader();
    const first = await reader.read();
    expect(first.value!.length).toBeGreaterThan(0);
    await reader.cancel();
    await sessionsGone(-1);
    expect((await pool.query('SELECT 2 AS two')).rows[0].two).toBe(2);
  });

  it('a ZIP download cancelled mid-COPY discards the connection too', async () => {
    const exp = await openTableExport(pool, { tables: ['activity_logs', 'trips'], format: 'zip' });
    const reader = exp.stream.getReader();
    expect((await reader.read()).value!.length).toBeGreaterThan(0);
    await reader.read();
    await reader.cancel();
    await sessionsGone(-1);
    expect((await pool.query('SELECT 4 AS four')).rows[0].four).toBe(4);
  });

  it('a COPY the server cancels mid-stream fails the download with the server error, and the pool still works', async () => {
    const exp = await openTableExport(pool, { tables: ['activity_logs'], format: 'zip' });
    const reader = exp.stream.getReader();
    await reader.read();
    const pid = await withClient(db.url, async (c) => {
      const r = await c.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY %'`);
      expect(r.rows).toHaveLength(1);
      await c.query('SELECT pg_cancel_backend($1)', [r.rows[0].pid]);
      return r.rows[0].pid as number;
    });
    let err: unknown;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/canceling statement/);
    await sessionsGone(-1);
    expect(pid).toBeGreaterThan(0);
    expect((await pool.query('SELECT 3 AS three')).rows[0].three).toBe(3);
  });
});
