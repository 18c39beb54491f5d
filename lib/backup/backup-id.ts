import { randomBytes } from 'node:crypto';
import { BACKUP_ID_RE } from './manifest';

/**
 * A new backup id `YYYYMMDDTHHMMSSZ-<8 base36 chars>` for the given start time: ids sort by time
 * (lexicographic = chronological), are safe in file names and URLs, and the random tail keeps two
 * backups started in the same second (two databases, one bucket) apart.
 */
export function newBackupId(at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  let tail = '';
  // 8 chars from 8 random bytes: 36^8 ≈ 2.8e12, uniform enough for collision avoidance.
  for (const b of randomBytes(8)) tail += (b % 36).toString(36);
  const id = `${stamp}-${tail}`;
  if (!BACKUP_ID_RE.test(id)) throw new Error(`internal: generated backup id ${id} does not match BACKUP_ID_RE`);
  return id;
}

/** Start time encoded in a backup id (null when it is not one). */
export function backupIdTime(id: string): Date | null {
  if (!BACKUP_ID_RE.test(id)) return null;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id)!;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}
