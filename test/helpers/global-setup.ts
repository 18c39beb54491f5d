import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../lib/db/embedded';

/**
 * Gives every test file a PostgreSQL server: TEST_DATABASE_URL when set (CI: the machine's
 * PostgreSQL 15), otherwise an embedded PostgreSQL 17 started here for the run and removed after.
 */
export default async function setup(project: TestProject) {
  let url = process.env.TEST_DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  let dir: string | undefined;
  if (!url) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tickethub-test-pg-'));
    const { chmod } = await import('node:fs/promises');
    await chmod(dir, 0o777);
    const db = await startEmbeddedPostgres(path.join(dir, 'data'), { quiet: true });
    url = db.url;
    stop = db.stop;
  }
  project.provide('serverUrl', url);
  return async () => {
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
  }
}
