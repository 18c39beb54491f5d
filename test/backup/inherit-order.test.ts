import { afterAll, expect, it } from 'vitest';
import { withClient } from '../helpers/db';
import { roundTripEveryPath } from './every-path';

/**
 * A child made by ALTER TABLE ... INHERIT keeps its column order (test/fixtures/nasty-inherit-order.sql).
 * Before, it was created with INHERITS, which puts the parents' columns first: the restored
 * child "in herit".ch had (a, "b ""col""", z) instead of (z, "b ""col""", a), so SELECT * and
 * INSERT without a column list meant other columns (backup and verify green; the drill failed
 * 'restored schema differs', so every such database failed its drills). Now it is
 * created with its own columns and then ALTER TABLE ONLY ... INHERIT each parent. By our restore,
 * --jobs 2 and gunzip | psql, compared by pg_dump -s of the whole database on PostgreSQL 15, the
 * catalog fingerprint (columns by rank) and rows.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('inheritance children made by ALTER TABLE INHERIT keep their column order by every path', async () => {
  const { source } = await roundTripEveryPath('nasty-inherit-order.sql', ['in herit'], cleanup);
  await withClient(source.url, async (c) => {
    const cols = await c.query(`SELECT string_agg(attname, ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = '"in herit".ch'::regclass AND attnum > 0`);
    expect(cols.rows[0].c).toBe('z,b "col",a');
  });
}, 300_000);
