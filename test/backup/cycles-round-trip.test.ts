import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, withClient } from '../helpers/db';
import { psqlFile, roundTrip } from '../helpers/schema-round-trip';
import path from 'node:path';
import { roundTripEveryPath } from './every-path';

/**
 * Dependency cycles through routines with SQL-standard bodies (test/fixtures/nasty-cycles.sql),
 * which pg_dump breaks: a view calling a function that reads the view (a placeholder view first,
 * CREATE OR REPLACE VIEW after the function), a default / CHECK calling a function that reads its
 * table, a domain CHECK calling a function that uses the domain, matviews over functions over
 * matviews. Before: the dump ordered the view loop by giving up ('dependency loop broken'), the
 * backup said succeeded and every restore failed.
 */
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

it('the dumper breaks every loop without a warning', async () => {
  const src = await createTestDatabase({ prefix: 'cycles' });
  cleanup.push(() => src.drop());
  await psqlFile(src.url, path.resolve(import.meta.dirname, '../fixtures/nasty-cycles.sql'));
  const dst = await createTestDatabase({ prefix: 'cycles' });
  cleanup.push(() => dst.drop());
  const dump = await roundTrip(src.url, dst.url, { schemas: ['cy'] });
  expect(dump.warnings).toEqual([]);
}, 120_000);

it('views, defaults, checks, domains and matviews in loops with functions round-trip by every path', async () => {
  const { source } = await roundTripEveryPath('nasty-cycles.sql', ['cy'], cleanup);
  expect(await withClient(source.url, async (c) => (await c.query('SELECT total FROM cy.v ORDER BY id')).rows)).toEqual([{ total: '30' }, { total: '30' }]);
}, 300_000);
