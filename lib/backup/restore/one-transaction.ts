import pg from 'pg';
import { AppError, oneLine, toAppError } from '../../errors';
import { restoreSessionSettingsSql } from '../session-settings';
import type { RestoreFailureDetails } from './restore-types';

/** Whether the restore's transaction is open (so a failure must say it rolled back). */
export interface TransactionState {
  open: boolean;
}

/**
 * Runs `body` in ONE transaction on `client`: nothing is visible to others before COMMIT, and any
 * failure (bad data, a constraint, the connection lost, Ctrl-C, the process killed) leaves the
 * target exactly as it was. On abort, a long statement (an index build) is cancelled server-side so
 * the ROLLBACK can run. The session gets the backup's output settings (the post-load re-read must
 * print values exactly as they were hashed), search_path '' (catalog deparsers then qualify every
 * name, as the archive does), room for index sorts, and an asynchronous commit (a crash before the
 * WAL flush loses the whole transaction, never half of it).
 */
export async function inOneTransaction<T>(client: pg.Client, targetUrl: string, state: TransactionState, signal: AbortSignal | undefined, body: (client: pg.Client) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  state.open = true;
  const pid = (client as unknown as { processID: number }).processID;
  const onAbort = () => {
    const c2 = new pg.Client({ connectionString: targetUrl });
    c2.on('error', () => {});
    c2.connect()
      .then(() => c2.query('SELECT pg_cancel_backend($1)', [pid]))
      .catch(() => {})
      .finally(() => void c2.end().catch(() => {}));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.query(`SELECT pg_catalog.set_config('search_path', '', true)`);
    await client.query(restoreSessionSettingsSql(true));
    await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    await client.query(`SET LOCAL synchronous_commit = off`);
    const r = await body(client);
    await client.query('COMMIT');
    state.open = false;
    return r;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The error a failed restore throws: one line, saying whether the transaction was rolled back
 * (`details.rolledBack`, `details.phase`). Rolls back first when the transaction is open; a broken
 * connection needs no ROLLBACK (the server aborts the open transaction on its own).
 */
export async function restoreFailure(err: unknown, client: pg.Client, state: TransactionState): Promise<AppError> {
  const inTx = state.open;
  if (inTx) {
    await client.query('ROLLBACK').catch(() => {});
    state.open = false;
  }
  const ae = toAppError(err);
  if ((ae.details as Partial<RestoreFailureDetails> | undefined)?.phase) return ae;
  return new AppError(ae.code, `${oneLine(ae.message)}${inTx ? ' — rolled back: target unchanged' : ''}`, {
    cause: err,
    details: { ...(ae.details ?? {}), rolledBack: inTx, phase: inTx ? 'transaction' : 'checks' } satisfies Record<string, unknown> & RestoreFailureDetails,
  });
}
