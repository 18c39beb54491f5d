import { afterAll, expect, it } from 'vitest';
import { withClient } from '../helpers/db';
import { roundTripEveryPath } from './every-path';

/**
 * A hostile DBA's use of the object kinds of issue 9 (test/fixtures/nasty-kinds.sql): every kind
 * used by another object (an exclusion constraint with a custom hash operator class, a generated
 * column calling a schema function and one using a schema TS configuration, a domain and a range
 * over schema collations, a view using a cast and an operator), names with quotes, newlines and
 * Amharic letters, event triggers disabled / ENABLE REPLICA / ENABLE ALWAYS, publications for a
 * schema and with a row filter and column list, a typed table with constraints on the type's
 * columns, a large object with owner, comment and ACL. By our restore, --jobs 2 and gunzip | psql,
 * compared by pg_dump -s of the whole database (owners and privileges) on PostgreSQL 15.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: whole-database pg_dump -s, comments, fingerprint and rows identical; event trigger states kept', async () => {
  const { source } = await roundTripEveryPath('nasty-kinds.sql', ['k ind"s'], cleanup);
  await withClient(source.url, async (c) => {
    const states = (await c.query(`SELECT evtname, evtenabled FROM pg_event_trigger ORDER BY 1`)).rows.map((r) => `${r.evtname}=${r.evtenabled}`);
    expect(states).toEqual(['ev\ndisabled=D', 'ev "origin"=O', 'ev always ✓=A', 'ev replica=R']);
  });
}, 300_000);
