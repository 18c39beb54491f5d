import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: a foreign key onto a unique index, an exclusion constraint through btree_gist, a child default over its parent, row types as columns, domains over domains with NOT VALID checks, a nondeterministic ICU collation of another schema, expression statistics, a partial index with COLLATE, materialized views over materialized views, recursive and VALUES views, DO ALSO and multi-action DO INSTEAD rules, OUT/INOUT/VARIADIC routines, an event trigger WHEN TAG (test/fixtures/nasty-held-out-10.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-10.sql', ['s10', 't10'], cleanup);
}, 300_000);
