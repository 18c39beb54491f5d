import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: names of 63 bytes (ASCII and Amharic) for a schema, a role, a table, its columns, constraints, index, trigger, policy, rule, a view, types, an operator, a cast, a collation, statistics, a publication, an event trigger, with their comments and grants (test/fixtures/nasty-held-out-16.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-16.sql', ['schema_name_that_is_exactly_sixty_three_bytes_long_abcdefghijkl', 'ስም_ያለው_ረጅም_ስኪማ_ስም_ያለው_ረጅም'], cleanup);
}, 300_000);
