import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/db';
import { backup, exec, tamperMember, tempStorage } from './restore-test-helpers';
import { runDrill } from '../../lib/backup/drill';
import { dropRoles } from '../security/supabase-fixture';

/**
 * Privileges changed since CREATE EXTENSION on members of an extension that lives in a backed-up
 * schema (REVOKE EXECUTE ON FUNCTION app.citext(character) FROM PUBLIC, a GRANT to a role) are
 * restored, as pg_dump does; the drill's catalog fingerprint left every extension member out, so
 * a backup whose archive lost such a GRANT (checksums fixed up) passed its drill.
 */
const role = `h1_extm_${randomBytes(4).toString('hex')}`;
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop().catch(() => {});
  await dropRoles([role]);
});

it('the drill fails, naming the member, when an extension member lost a GRANT; passes on the intact backup', async () => {
  await exec(serverUrl(), `CREATE ROLE ${role} NOLOGIN`);
  const src = await createTestDatabase({ prefix: 'h1extm' });
  dbs.push(src);
  await exec(
    src.url,
    `CREATE SCHEMA app; CREATE EXTENSION citext WITH SCHEMA app;
     REVOKE EXECUTE ON FUNCTION app.citext(character) FROM PUBLIC; GRANT EXECUTE ON FUNCTION app.citext(character) TO ${role};
     CREATE TABLE app.t (id int PRIMARY KEY, h app.citext); INSERT INTO app.t VALUES (1, 'A')`,
  );
  const { storage, dir } = await tempStorage();
  const good = await backup(src.url, storage, ['app']);
  const ok = await runDrill({ storage, id: good, serverUrl: serverUrl() });
  expect(ok.error).toBeNull();
  expect(ok.ok).toBe(true);

  const bad = await backup(src.url, storage, ['app']);
  await tamperMember(dir, bad, (e) => e.kind === 'ACL' && e.name === 'app', (sql) => sql.replace(`GRANT ALL ON FUNCTION app.citext(character) TO ${role};\n`, ''));
  const r = await runDrill({ storage, id: bad, serverUrl: serverUrl() });
  expect(r.ok).toBe(false);
  expect(r.error).toMatch(/restored schema differs from the backup: extension member function app\.citext\(character\) (differs|is missing)/);
}, 180_000);
