import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: CHECK constraints calling functions that read tables loaded after theirs, on a table, a partitioned table and its partition, an inheritance child, a domain (test/fixtures/nasty-held-out-12.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-12.sql', ['c12'], cleanup);
}, 300_000);
