import type pg from 'pg';
import { AppError } from '../errors';

/** Why a run stops when its control session goes away (e.g. pg_terminate_backend). */
export const CONTROL_LOST =
  "the backup's control session (which holds the one-backup-at-a-time lock) was terminated; the run was stopped and nothing was kept";

/**
 * Watches the control session of a backup run. The session holds the advisory lock: once it is
 * gone (terminated by an admin, a dropped connection, a server restart) another backup may start,
 * so the run must stop before it records or keeps anything. `signal` aborts with an AppError
 * (reason) as soon as the connection reports an error or ends; `lost()` says whether that happened.
 */
export function watchControlSession(control: pg.Client, outer?: AbortSignal): { signal: AbortSignal; lost(): AppError | null; stop(): void } {
  const ac = new AbortController();
  let lostError: AppError | null = null;
  const onLost = () => {
    if (lostError) return;
    lostError = new AppError('db_error', CONTROL_LOST);
    ac.abort(lostError);
  };
  const onOuter = () => ac.abort(outer?.reason);
  control.on('error', onLost);
  control.on('end', onLost);
  outer?.addEventListener('abort', onOuter, { once: true });
  if (outer?.aborted) onOuter();
  return {
    signal: ac.signal,
    lost: () => lostError,
    stop() {
      control.off('error', onLost);
      control.off('end', onLost);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}
