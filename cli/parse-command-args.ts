import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { AppError } from '../lib/errors';

export interface ParsedCommandArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses a command's argv with node:util parseArgs (strict). An unknown flag, a missing flag value
 * or too many positional arguments is AppError('usage') with the command's synopsis (exit 2).
 * `--help`/`-h` is always accepted.
 */
export function parseCommandArgs(argv: string[], options: NonNullable<ParseArgsConfig['options']>, usage: string, maxPositionals = 0): ParsedCommandArgs {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: maxPositionals > 0, strict: true });
    if (r.positionals.length > maxPositionals) throw new Error(`unexpected argument '${r.positionals[maxPositionals]}'`);
    return { values: r.values as ParsedCommandArgs['values'], positionals: r.positionals };
  } catch (err) {
    // One line (the dispatcher prints errors as one line): the problem, then the synopsis.
    throw new AppError('usage', `${(err as Error).message.split('\n')[0]}; ${usage.split('\n')[0].replace(/^Usage: /, 'usage: ')}`);
  }
}
