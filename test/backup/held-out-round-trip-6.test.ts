import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: views WITH LOCAL/CASCADED CHECK OPTION, grantor chains (table, column, sequence, function, schema), a sequence owned across schemas, cycling identities, a partition with another column order, multi-parent inheritance, a deferrable constraint trigger, function-calling domains and policies, index shapes, an extension type from another schema, COPY-hostile values, empty large objects (test/fixtures/nasty-held-out-6.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-6.sql', ['s8', 's9'], cleanup);
}, 300_000);
