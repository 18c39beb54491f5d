import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: a 1,100-column table, a 3 MB row among small ones, a three-level partitioned table with DEFAULT partitions and an identity, an inherited generated column, a used-up sequence, a generated tsvector over the schema\'s text search configuration, a recursive LATERAL view, arrays of a composite of a domain (test/fixtures/nasty-held-out-13.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-13.sql', ['w13'], cleanup);
}, 300_000);
