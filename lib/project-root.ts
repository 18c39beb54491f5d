import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Written into the bundled CLI by scripts/build-cli.mjs (esbuild `define`): the bundle lives under
// node_modules/.cache, where paths relative to the module say nothing about the project.
declare const TICKETHUB_BUNDLE_PROJECT_ROOT: string | undefined;

/**
 * The project's root directory (package.json, db/migrations, .data, node_modules). Resolved from
 * this file when run from source (tsx, Vitest); the bundled CLI has it built in, and
 * bin/tickethub-backup.mjs only runs a bundle built for its own root. Inside a bundle whose
 * import.meta.url is not a file: URL (the Next.js server's), the working directory, where the
 * server runs.
 */
export const PROJECT_ROOT: string = (() => {
  if (typeof TICKETHUB_BUNDLE_PROJECT_ROOT === 'string') return TICKETHUB_BUNDLE_PROJECT_ROOT;
  try {
    return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  } catch {
    return process.cwd();
  }
})();
