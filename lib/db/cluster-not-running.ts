import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors';
import { processAlive } from './process-alive';

/**
 * One line instead of PostgreSQL's raw "lock file "postmaster.pid" already exists" when the
 * cluster is already served by a live postmaster: usually a second `npm start` (another port)
 * on the same data directory. A pid file whose process is gone is stale: PostgreSQL itself
 * replaces it, so that case starts normally.
 */
export async function assertClusterNotRunning(dataDir: string): Promise<void> {
  let lines: string[];
  try {
    lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return;
  }
  const pid = Number(lines[0]);
  if (!processAlive(pid)) return;
  const port = /^\d+$/.test(lines[3] ?? '') ? `, port ${lines[3]}` : '';
  throw new AppError('conflict', `the embedded PostgreSQL in ${dataDir} is already running (pid ${pid}${port}), probably another \`npm start\`: stop that one first (Ctrl-C in its terminal), or give this one its own TICKETHUB_DATA_DIR`);
}
