import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { withClient, type TestDatabase } from './db';
import type { StorageBackend } from '../../lib/storage/storage-backend';

/**
 * A test file's login role (a random name with `prefix`, password `password`; the caller creates
 * it) and what the file cleans up after its tests: its databases (push them to `dbs`), then the
 * role, then `storage` when one was set. `as(url)` is `url` logged in as the role.
 */
export function loginRoleFixture(prefix: string) {
  const fx = {
    role: `${prefix}_${randomBytes(3).toString('hex')}`,
    password: `${prefix}-pw`,
    dbs: [] as TestDatabase[],
    storage: undefined as StorageBackend | undefined,
    as(url: string): string {
      const u = new URL(url);
      u.username = fx.role;
      u.password = fx.password;
      return u.toString();
    },
  };
  afterAll(async () => {
    await fx.storage?.close();
    for (const d of fx.dbs) await d.drop().catch(() => undefined);
    if (fx.dbs[0]) await withClient(fx.dbs[0].url.replace(/\/[^/]*$/, '/postgres'), (c) => c.query(`DROP ROLE IF EXISTS ${fx.role}`)).catch(() => undefined);
  });
  return fx;
}
