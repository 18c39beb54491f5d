import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStorage } from '../../lib/storage/local/local-storage';
import { tempDir } from '../helpers/temp-dirs';

// Whoever can write to a local backup directory can put a symbolic link where an object should be:
// `<id>.sql.gz -> /srv/app/.env`. Followed, every reader of that key reads the app's secrets (the
// dashboard's download route streams the "archive" to an admin; a manifest's JSON error quotes its
// first bytes). A FIFO in its place made every reader hang on open. Objects are regular files in
// the directory: anything else is refused in one line, naming the key and never the content.
describe('LocalStorage: objects are regular files, never followed links', () => {
  it('a symbolic link to a file outside the root, and a FIFO, are refused by get and stat; the target is never read', async () => {
    const root = await tempDir('local-symlinks-');
    const outside = await tempDir('local-symlinks-secret-');
    const secret = path.join(outside, '.env');
    await writeFile(secret, 'BACKUP_SIGNING_KEY=top-secret-value-0123456789\n');
    const storage = new LocalStorage(path.join(root, 'store'));
    await storage.put('20261202T000000Z-aaaaaa.manifest.json', (await import('node:stream')).Readable.from([Buffer.from('{}')]));
    await symlink(secret, path.join(root, 'store', '20261202T000000Z-aaaaaa.sql.gz'));
    await mkdir(path.join(root, 'store'), { recursive: true });
    execFileSync('mkfifo', [path.join(root, 'store', '20261202T000000Z-bbbbbb.sql.gz')]);

    for (const key of ['20261202T000000Z-aaaaaa.sql.gz', '20261202T000000Z-bbbbbb.sql.gz']) {
      const got = await Promise.race([
        storage.get(key).then(
          async (s) => {
            const parts: Buffer[] = [];
            for await (const c of s) parts.push(c as Buffer);
            return `read: ${Buffer.concat(parts).toString()}`;
          },
          (err: unknown) => err,
        ),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 3000)),
      ]);
      expect(got).toMatchObject({ code: 'storage', message: expect.stringMatching(/not a regular file/) });
      expect(String((got as Error).message)).not.toContain('top-secret');
      await expect(storage.stat(key)).rejects.toMatchObject({ code: 'storage', message: expect.stringMatching(/not a regular file/) });
      await expect(storage.get(key, { start: 0, end: 10 })).rejects.toMatchObject({ code: 'storage' });
    }
    // A real object still reads.
    expect((await storage.stat('20261202T000000Z-aaaaaa.manifest.json')).size).toBe(2);
  });
});
