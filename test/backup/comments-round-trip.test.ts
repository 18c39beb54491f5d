import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { commentsOf, roundTripEveryPath } from './every-path';

/**
 * A comment on every object kind the backup supports (test/fixtures/comments-everywhere.sql) comes
 * back by every restore path. Before: COMMENT ON PUBLICATION vanished (backup, verify and drill
 * green).
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('comments on schemas, types, routines, casts, operators, text search, foreign data, triggers, rules, policies, statistics, event triggers, large objects, extensions and publications round-trip', async () => {
  const { source } = await roundTripEveryPath('comments-everywhere.sql', ['cm'], cleanup);
  // The fixture's every COMMENT is in the source (so the comparison above covers each kind).
  const sql = await readFile(path.resolve(import.meta.dirname, '../fixtures/comments-everywhere.sql'), 'utf8');
  const wanted = [...sql.matchAll(/IS '(c: [^']+)'/g)].map((m) => m[1]);
  const have = await commentsOf(source.url);
  for (const w of wanted) expect(have.some((l) => l.endsWith(`: ${w}`)), w).toBe(true);
  expect(wanted.length).toBeGreaterThan(40);
}, 300_000);
