#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50 --expose-gc
// Node flags (`npx tickethub-backup` and ./bin/tickethub-backup.mjs run with them; `node
// bin/tickethub-backup.mjs` without, and then only uses more memory): --max-semi-space-size=8 (MB)
// keeps V8's young generation from growing to 16 MB semi-spaces under a backup's catalog reading
// (hundreds of MB of short-lived query rows and SQL text on a 5,000-table database). It was 1 MB
// until 2026-12-03: 8 MB gives the same peak RSS there (171-177 vs 172-173 MB, 3 alternating runs)
// for 0.3-0.6 s less CPU and 0.15-0.45 s less time (5.03-5.25 -> 4.75-4.90 s; scavenges of a 1 MB
// young generation promoted most query rows); the 2.5M-row backup peaked lower (120-127 vs
// 143-146 MB); 16 MB reached 198-202 MB.
// --heap-growing-percent=50 lets the old generation grow to 1.5x what was alive at the last full
// collection instead of up to 4x; --expose-gc lets the backup collect garbage where little is alive
// (run-backup.ts collectGarbage). Peak RSS of a 5,000-table catalog's backup 253-281 -> 174-198 MB
// (7 runs), for ~0.3 s more user CPU from the smaller young generation and ~0.3 s from the growing
// factor (~3.3 s in all; README "Large catalogs").
// Entry point of the `tickethub-backup` CLI. It runs the bundle built at install time
// (scripts/build-cli.mjs; `list` starts on 0.17 s of CPU instead of 0.51 s) while every source file
// it was built from is unchanged (bin/cli-bundle.mjs), otherwise the TypeScript sources through tsx,
// so the CLI and the web app share one code base and an edited source runs as it is now, never a
// stale bundle. TICKETHUB_CLI_TSX=1 always runs the sources; TICKETHUB_DEBUG_CLI_PATH=1 says on
// stderr which ran.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshBundle } from './cli-bundle.mjs';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const choice = process.env.TICKETHUB_CLI_TSX === '1' ? { stale: 'TICKETHUB_CLI_TSX=1' } : freshBundle(root);
let cli;
if (choice.bundle) {
  if (process.env.TICKETHUB_DEBUG) process.setSourceMapsEnabled(true);
  try {
    cli = await import(pathToFileURL(choice.bundle).href);
  } catch (err) {
    choice.stale = `the bundle did not load: ${String(err?.message ?? err).split('\n')[0]}`;
  }
}
if (process.env.TICKETHUB_DEBUG_CLI_PATH === '1') process.stderr.write(`tickethub-backup: running ${cli ? `the bundle ${choice.bundle}` : `the sources through tsx (${choice.stale})`}\n`);
if (!cli) {
  const { register } = await import('tsx/esm/api');
  register();
}
// A reader that goes away (`list | head`) is not a failure of the command: stop writing there and
// let the command finish what it started (no EPIPE stack trace, no work cut off half-way).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}
const { main } = cli ?? (await import('../cli/index.ts'));
const code = await main(process.argv.slice(2));
// Exit once stdout/stderr have drained: a command is done when it returns, even if a library left a
// socket or timer open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
