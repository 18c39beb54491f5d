import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: a range and multirange over an enum, a domain over it, row-typed columns, hash and MINVALUE/MAXVALUE sub-partitions on an expression key, ON DELETE SET NULL (column), NO INHERIT NOT VALID checks, a generated tsvector over the schema\'s text search config, recursive and LATERAL views, a matview across schemas, a NOTIFY rule, an unlogged smallint sequence, comments on view columns, indexes, rules, triggers and policies, an owner with quotes in its name (test/fixtures/nasty-held-out-7.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-7.sql', ['r1', 'r2'], cleanup);
}, 300_000);
