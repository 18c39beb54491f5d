import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: Pagila-shaped (an enum and a year domain, tsvector_update_trigger with arguments, a custom aggregate used by a view, a payment table partitioned by month with a DEFAULT, SETOF/OUT and SECURITY DEFINER functions, routines whose signature passes 63 bytes with owners and grants) (test/fixtures/nasty-held-out-15.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-15.sql', ['pg15s'], cleanup);
}, 300_000);
