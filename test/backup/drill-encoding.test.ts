import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { runDrill } from '../../lib/backup/drill';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import { runBackup } from '../../lib/backup/run-backup';
import { dropDatabase, serverUrl, urlFor, withClient } from '../helpers/db';
import { exec, tempStorage } from './restore-test-helpers';

// A SQL_ASCII database counts bytes as characters: char(3) holding 'é' (two UTF-8 bytes) is padded
// with ONE space, varchar(4) holds 'ñú'. Restored into UTF8, the same bytes are fewer characters
// (char(3) pads 'é' with two spaces), so the rows differ from the backup by design of the target
// encoding (pg_restore gives the same). A drill must rehearse the restore that keeps the data: into
// a scratch database of the source's encoding. Before, every drill of such a database failed
// 'content hash differs' on data that restores exactly into SQL_ASCII.
const names: string[] = [];
let dir: string | undefined;

afterAll(async () => {
  for (const n of names) await dropDatabase(n).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sqlAsciiDatabase(): Promise<string> {
  const name = `drenc_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  names.push(name);
  await exec(serverUrl(), `CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'`);
  return urlFor(name);
}

it('the drill of a SQL_ASCII database with multibyte text in char(n)/varchar(n) passes; its rows restore exactly into SQL_ASCII', async () => {
  const src = await sqlAsciiDatabase();
  await exec(
    src,
    `CREATE TABLE public.names (id int PRIMARY KEY, c char(3), v varchar(4), t text);
     INSERT INTO public.names VALUES (1, 'é', 'ñú', 'café'), (2, 'ab', 'abcd', NULL);`,
  );
  const store = await tempStorage();
  dir = store.dir;
  const { id } = await runBackup({ databaseUrl: src, storage: store.storage, trigger: 'cli' });

  const drill = await runDrill({ storage: store.storage, id, serverUrl: serverUrl() });
  expect(drill.error).toBeNull();
  expect(drill.ok).toBe(true);

  const target = await sqlAsciiDatabase();
  await restoreBackup({ source: id, storage: store.storage, targetUrl: target, checkContent: true });
  const rows = (url: string) => withClient(url, async (c) => (await c.query(`SELECT id, octet_length(c) AS cb, encode(convert_to(concat_ws('|', c, v, t), 'SQL_ASCII'), 'hex') AS h FROM public.names ORDER BY id`)).rows);
  expect(await rows(target)).toEqual(await rows(src));
  await store.storage.close();
});
