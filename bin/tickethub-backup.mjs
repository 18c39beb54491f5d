#!/usr/bin/env node
// Entry point of the `tickethub-backup` CLI: runs the TypeScript sources through tsx so the CLI and
// the web app share one code base without a separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/index.ts');
const code = await main(process.argv.slice(2));
// Exit once stdout/stderr have drained: a command is done when it returns, even if a library left a
// socket or timer open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
