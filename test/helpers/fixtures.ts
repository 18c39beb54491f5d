import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Path of the Chinook sample database, vendored in test/fixtures/chinook.sql (MIT, see
 * test/fixtures/CHINOOK-LICENSE.md) so a clone of the repository alone runs the suite; CHINOOK_SQL
 * overrides. Fails with one line naming where it looked.
 */
export function chinookSqlPath(): string {
  const candidates = [
    process.env.CHINOOK_SQL,
    path.resolve(import.meta.dirname, '../fixtures/chinook.sql'),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`Chinook fixture not found (looked in ${candidates.join(', ')}); set CHINOOK_SQL`);
  return found;
}
