import { unknownSettingWarnings } from '../lib/config/known-settings';
import { AppError, exitCode, oneLine, toAppError } from '../lib/errors';
import { printableLines } from './printable';
import { COMMANDS } from './registry';

/**
 * tickethub-backup: one file per command under cli/commands/<name>.ts, each exporting
 *   export const summary: string;            // one line for `help`
 *   export async function run(argv: string[]): Promise<number>;   // exit code
 * Commands throw AppError for failures; this dispatcher prints the one-line message to stderr and
 * maps the code to the exit code (0 success, 1 failure, 2 usage). Every command is listed in
 * ./registry (a static list, so the CLI can run from one bundled file: see bin/tickethub-backup.mjs).
 */
function commandNames(): string[] {
  return [...COMMANDS.keys()].sort();
}

async function help(): Promise<string> {
  const lines = ['Usage: tickethub-backup <command> [options]', '', 'Commands:'];
  for (const name of commandNames()) {
    const mod = await COMMANDS.get(name)!();
    lines.push(`  ${name.padEnd(10)} ${mod.summary}`);
  }
  lines.push('', 'Run `tickethub-backup <command> --help` for its options.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${await help()}\n`);
    return name ? 0 : 2;
  }
  const load = /^[a-z][a-z-]*$/.test(name) ? COMMANDS.get(name) : undefined;
  if (!load) {
    process.stderr.write(`tickethub-backup: unknown command '${name}' (see 'tickethub-backup help')\n`);
    return 2;
  }
  const mod = await load();
  // A misspelt setting would be ignored in silence (lib/config/known-settings.ts).
  for (const w of unknownSettingWarnings()) process.stderr.write(printableLines([`tickethub-backup: warning: ${w}`]));
  try {
    return await mod.run(rest);
  } catch (err) {
    const e = err instanceof AppError ? err : toAppError(err);
    process.stderr.write(printableLines([`tickethub-backup ${name}: ${oneLine(e.message)}`]));
    if (process.env.TICKETHUB_DEBUG) console.error(err);
    return exitCode(e.code);
  }
}
