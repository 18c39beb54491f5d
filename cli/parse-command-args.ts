import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { AppError } from '../lib/errors';

export interface ParsedCommandArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** The usage line after a usage error: the first line of a command's usage text. */
function synopsis(usage: string): string {
  return usage.split('\n')[0].replace(/^usage: /i, 'usage: ');
}

/** Options whose empty value means something (an empty note). */
const EMPTY_ALLOWED = new Set(['description']);

/**
 * Parses a command's argv with node:util parseArgs (strict). An unknown flag, a missing flag value,
 * a flag given twice (`--mode fresh --mode replace` must not quietly mean replace), an empty value or too many
 * positional arguments is AppError('usage') with the command's synopsis (exit 2).
 * `--help`/`-h` is always accepted.
 */
export function parseCommandArgs(argv: string[], options: NonNullable<ParseArgsConfig['options']>, usage: string, maxPositionals = 0): ParsedCommandArgs {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: maxPositionals > 0, strict: true, tokens: true });
    const seen = new Set<string>();
    for (const t of r.tokens) {
      if (t.kind !== 'option') continue;
      if (seen.has(t.name)) throw new Error(`option '--${t.name}' given more than once`);
      // `--database-url "$UNSET"` must not quietly mean "the default database".
      const value: unknown = t.value;
      if (value === '' && !EMPTY_ALLOWED.has(t.name)) throw new Error(`option '--${t.name}' needs a value, got an empty string`);
      seen.add(t.name);
    }
    if (r.positionals.length > maxPositionals) throw new Error(`unexpected argument '${r.positionals[maxPositionals]}'`);
    return { values: r.values as ParsedCommandArgs['values'], positionals: r.positionals };
  } catch (err) {
    // One line (the dispatcher prints errors as one line): the problem (without node's hint about
    // '--' before positionals), then the synopsis.
    const problem = (err as Error).message.split('\n')[0].replace(/\. To specify a positional argument starting with a '-'.*$/, '');
    throw new AppError('usage', `${problem}; ${synopsis(usage)}`);
  }
}

/** A whole-number option from min to max: digits only (`1e1`, `0x2`, ` 2` and `1.5` are refused). */
export function integerOption(value: string | boolean | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^[0-9]+$/.test(s) || Number(s) < min || Number(s) > max) throw new AppError('usage', `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(s)}`);
  return Number(s);
}
