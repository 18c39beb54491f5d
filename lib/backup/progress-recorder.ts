import type pg from 'pg';
import type { BackupProgress } from './backup-progress';
import { recordRunProgress } from './backup-runs';

/** How often a running backup writes its progress to its backup_runs row. */
export const PROGRESS_WRITE_MS = 1000;

/**
 * A progress listener that stores the latest progress in `backup_runs.progress` of run `id`, at
 * most once per PROGRESS_WRITE_MS (plus every phase change), one write in flight at a time. The
 * dashboard's event stream reads the row, so progress shows on every server instance, not only
 * on the one running the backup. A failed write is ignored: progress is a display, and the
 * backup's own outcome must not depend on it.
 */
export function progressRecorder(db: Pick<pg.ClientBase, 'query'>, id: string): (p: BackupProgress) => void {
  let last = 0;
  let phase = '';
  let inFlight = false;
  let pending: BackupProgress | null = null;
  const write = (p: BackupProgress) => {
    inFlight = true;
    last = Date.now();
    phase = p.phase;
    const { id: _id, ...rest } = p;
    void recordRunProgress(db, id, rest)
      .catch(() => {})
      .finally(() => {
        inFlight = false;
        // A phase change that arrived during the write is not lost.
        if (pending) {
          const next = pending;
          pending = null;
          write(next);
        }
      });
  };
  return (p) => {
    const phaseChanged = p.phase !== phase;
    if (!phaseChanged && Date.now() - last < PROGRESS_WRITE_MS) return;
    if (inFlight) {
      if (phaseChanged || !pending) pending = p;
      return;
    }
    write(p);
  };
}

/** Calls every given listener (skipping undefined ones). */
export function bothProgress(...fns: (((p: BackupProgress) => void) | undefined)[]): ((p: BackupProgress) => void) | undefined {
  const list = fns.filter((f): f is (p: BackupProgress) => void => !!f);
  if (list.length === 0) return undefined;
  return (p) => {
    for (const f of list) f(p);
  };
}
