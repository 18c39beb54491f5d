import { Readable } from 'node:stream';
import type { StorageBackend } from '../storage/storage-backend';
import { MAX_RECORD_BYTES, readCappedText } from '../storage/read-capped';
import { BACKUP_ID_RE } from './manifest';

/**
 * `<id>.failed.json`: a failed run written to storage because the database (where failures
 * normally go, backup_runs) could not be reached. `list` shows it, `reindex` and the next
 * scheduled job fold it into backup_runs and remove it.
 */
export interface FailedMarker {
  id: string;
  trigger: string;
  startedAt: string;
  finishedAt: string;
  error: string;
  code: string;
}

export const failedKey = (id: string) => `${id}.failed.json`;
export const FAILED_KEY_RE = /^(.+)\.failed\.json$/;

export async function writeFailedMarker(storage: StorageBackend, m: FailedMarker): Promise<void> {
  await storage.put(failedKey(m.id), Readable.from([Buffer.from(`${JSON.stringify(m, null, 2)}\n`)]));
}

/** Parses a marker; null when it is not one (never trusted beyond its shape: it is only shown). */
export function parseFailedMarker(id: string, text: string): FailedMarker | null {
  try {
    const v = JSON.parse(text) as Partial<FailedMarker>;
    if (v.id !== id || !BACKUP_ID_RE.test(id)) return null;
    const str = (x: unknown, max = 2000) => (typeof x === 'string' ? x.slice(0, max) : '');
    const startedAt = str(v.startedAt, 40);
    if (Number.isNaN(Date.parse(startedAt))) return null;
    const finishedAt = Number.isNaN(Date.parse(str(v.finishedAt, 40))) ? startedAt : str(v.finishedAt, 40);
    return { id, trigger: str(v.trigger, 20) || 'schedule', startedAt, finishedAt, error: str(v.error) || 'failed', code: str(v.code, 40) || 'internal' };
  } catch {
    return null;
  }
}

export async function readFailedMarker(storage: StorageBackend, id: string): Promise<FailedMarker | null> {
  return parseFailedMarker(id, await readCappedText(await storage.get(failedKey(id)), MAX_RECORD_BYTES, `${failedKey(id)} in ${storage.location}`));
}

/** Every readable failure marker in storage, newest first. */
export async function listFailedMarkers(storage: StorageBackend): Promise<FailedMarker[]> {
  const out: FailedMarker[] = [];
  for (const o of await storage.list()) {
    const m = FAILED_KEY_RE.exec(o.key);
    if (!m || !BACKUP_ID_RE.test(m[1])) continue;
    const marker = await readFailedMarker(storage, m[1]).catch(() => null);
    if (marker) out.push(marker);
  }
  return out.sort((a, b) => (a.id < b.id ? 1 : -1));
}
