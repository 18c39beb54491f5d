import type pg from 'pg';
import { recoverStaleRuns } from '../backup/backup-runs';
import { oneLine } from '../errors';
import { backupDetail } from '../queries/backup-detail';

/** How often the stream re-reads the run's row. */
const POLL_MS = 500;
/** Comment line keeping proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** A stale 'running' row (its process died) is looked for this often. */
const STALE_CHECK_MS = 10_000;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * The Server-Sent Events of one backup, read from its backup_runs row (written by whichever
 * process runs the backup, so any server instance can serve the stream): `event: progress` with
 * the row's latest progress whenever it changes, then exactly one `event: done` (data: the backup
 * as GET /api/admin/backups/{id} returns it) or `event: failed` (data: the one-line cause), then
 * the stream ends. A stream that reaches `maxMs` ends without either; EventSource reconnects.
 */
export function backupEventStream(pool: pg.Pool, id: string, signal: AbortSignal, maxMs: number): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const frame = (event: string, data: string) => enc.encode(`event: ${event}\ndata: ${data}\n\n`);
  return new ReadableStream<Uint8Array>({
    async start(ctrl) {
      const end = Date.now() + maxMs;
      let lastProgress = '';
      let lastSent = Date.now();
      let lastStaleCheck = Date.now();
      try {
        ctrl.enqueue(enc.encode('retry: 2000\n\n'));
        while (!signal.aborted && Date.now() < end) {
          const b = await backupDetail(pool, id);
          if (b.status === 'succeeded') {
            ctrl.enqueue(frame('done', JSON.stringify(b)));
            break;
          }
          if (b.status === 'failed' || b.status === 'deleted') {
            ctrl.enqueue(frame('failed', oneLine(b.error ?? `backup ${id} was deleted`)));
            break;
          }
          const p = JSON.stringify(b.progress ?? { phase: 'starting', tablesDone: 0, tablesTotal: 0, rows: 0, rawBytes: 0, archiveBytes: 0 });
          if (p !== lastProgress) {
            ctrl.enqueue(frame('progress', p));
            lastProgress = p;
            lastSent = Date.now();
          } else if (Date.now() - lastSent > HEARTBEAT_MS) {
            ctrl.enqueue(enc.encode(': still running\n\n'));
            lastSent = Date.now();
          }
          if (Date.now() - lastStaleCheck > STALE_CHECK_MS) {
            lastStaleCheck = Date.now();
            await recoverStaleRuns(pool); // a run whose process died becomes failed → `failed` event
          }
          await sleep(POLL_MS, signal);
        }
      } catch (err) {
        ctrl.enqueue(frame('failed', oneLine(String((err as Error)?.message ?? err))));
      }
      try {
        ctrl.close();
      } catch {
        /* the client went away */
      }
    },
  });
}
