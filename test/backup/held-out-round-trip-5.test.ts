import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: owners that revoked their own privileges, PUBLIC column grants, type and domain ACLs, a named identity sequence, matviews (unique, clustered, WITH NO DATA), schema publications via the partition root, expression statistics, trigger arguments with quotes and backslashes, a large object of another owner (test/fixtures/nasty-held-out-5.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-5.sql', ['s6', 's7'], cleanup);
}, 300_000);
