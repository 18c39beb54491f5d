import { afterAll, expect, it } from 'vitest';
import { withClient } from '../helpers/db';
import { roundTripEveryPath } from './every-path';

/**
 * Privileges that were lost or broke every restore (test/fixtures/nasty-acl-edges.sql):
 *  - default privileges for every schema (ALTER DEFAULT PRIVILEGES FOR ROLE r without IN SCHEMA,
 *    e.g. REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC): not backed up at all, so backup, verify and
 *    drill were green and every function created after a restore was executable by PUBLIC again;
 *  - a privilege on an ordered-set or hypothetical-set aggregate: the backup wrote
 *    GRANT ... ON FUNCTION agg(double precision ORDER BY double precision), a syntax error, so every
 *    restore failed (rolled back) after a succeeded backup;
 *  - the owner or a privilege of a routine whose name holds a parenthesis ("f(x", "agg)(", "p()"):
 *    the name was cut at its first '(', a syntax error in the OWNER member, every restore failed;
 *  - the privileges of plpgsql (REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC): an extension member
 *    outside the schemas, not backed up, the drill green.
 * By our restore, --jobs 2 and gunzip | psql, compared by pg_dump -s of the whole database (owners
 * and privileges) on PostgreSQL 15, the catalog fingerprint and the drill.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('database-wide default privileges, privileges on ordered-set aggregates and on routines named with parentheses round-trip by every path', async () => {
  const { source } = await roundTripEveryPath('nasty-acl-edges.sql', ['a cl'], cleanup);
  await withClient(source.url, async (c) => {
    const n = await c.query(`SELECT count(*)::int AS n FROM pg_default_acl WHERE defaclnamespace = 0`);
    expect(n.rows[0].n).toBe(6);
  });
}, 300_000);
