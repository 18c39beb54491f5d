#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=50 --expose-gc
// Node flags (`npx tickethub-backup` and ./bin/tickethub-backup.mjs run with them; `node
// bin/tickethub-backup.mjs` without, and then only uses more memory): --max-semi-space-size=1 (MB)
// keeps V8's young generation from growing to 16 MB semi-spaces under a backup's catalog reading
// (hundreds of MB of short-lived query rows and SQL text on a 5,000-table database);
// --heap-growing-percent=50 lets the old generation grow to 1.5x what was alive at the last full
// collection instead of up to 4x; --expose-gc lets the backup collect garbage where little is alive
// (run-backup.ts collectGarbage). Peak RSS of a 5,000-table catalog's backup 253-281 -> 174-198 MB
// (7 runs), for ~0.3 s more user CPU from the smaller young generation and ~0.3 s from the growing
// factor (~3.3 s in all; README "Large catalogs").
// Entry point of the `tickethub-backup` CLI: runs the TypeScript sources through tsx so the CLI and
// the web app share one code base without a separate build step.
import { register } from 'tsx/esm/api';

register();
// A reader that goes away (`list | head`) is not a failure of the command: stop writing there and
// let the command finish what it started (no EPIPE stack trace, no work cut off half-way).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
const { main } = await import('../cli/index.ts');
const code = await main(process.argv.slice(2));
// Exit once stdout/stderr have drained: a command is done when it returns, even if a library left a
// socket or timer open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
