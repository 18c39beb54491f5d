import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path, owners and privileges: grant chains on a table, a sequence and a column, an owner that revoked its own privileges, USAGE on a type and a domain moved from PUBLIC to roles, a partition with its own grants, default privileges for sequences, types and functions, a SECURITY DEFINER function (test/fixtures/nasty-held-out-14.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-14.sql', ['p14'], cleanup);
}, 300_000);
