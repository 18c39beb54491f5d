import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: functions, procedures, indexes, materialized views and triggers marked DEPENDS ON EXTENSION, a renamed and re-sorted enum, dropped columns and attributes, a typed table whose type grew, TRUNCATE and transition-table triggers on partitions, SET FROM CURRENT, a guarded view, a named multirange, a domain over a composite, a default from another schema.s sequence (test/fixtures/nasty-held-out-9.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-9.sql', ['app9', 'aux9', 'ext9'], cleanup);
}, 300_000);
