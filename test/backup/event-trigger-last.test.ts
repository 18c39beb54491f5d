import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

/**
 * An event trigger that refuses all DDL (test/fixtures/nasty-event-trigger.sql) comes back by every
 * restore path: it is created after every other statement of the restore (owners, privileges,
 * comments, publications, large objects, materialized view refreshes), which it would refuse.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('a DDL-refusing event trigger does not break our restore, --jobs 2 or gunzip | psql', async () => {
  await roundTripEveryPath('nasty-event-trigger.sql', ['ev'], cleanup);
}, 300_000);
