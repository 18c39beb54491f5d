import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: grants passed on by a grantee (grantor other than the owner), view column defaults and options, partition-local trigger/index/default differences, cross-schema inheritance, FKs to partitioned tables, moving and hypothetical aggregates (test/fixtures/nasty-held-out-4.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-4.sql', ['s4', 's5'], cleanup);
}, 300_000);
