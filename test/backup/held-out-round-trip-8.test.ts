import { afterAll, it } from 'vitest';
import { roundTripEveryPath } from './every-path';

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('round-trips by every path: an Amharic schema name, zero-column tables with rows, keyword/dotted/quoted column names, an enum with COPY-hostile labels in arrays, a CHECK over a BEGIN ATOMIC function of the row type, rare column types at their extremes, FORCEd row security with RESTRICTIVE policies, per-role default privileges, a disabled trigger with WHEN (test/fixtures/nasty-held-out-8.sql)', async () => {
  await roundTripEveryPath('nasty-held-out-8.sql', ['app8', 'aux8', 'ቲኬት 8', 'h8types'], cleanup);
}, 300_000);
