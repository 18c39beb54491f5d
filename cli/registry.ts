/**
 * Every command of tickethub-backup: its name (the file cli/commands/<name>.ts) and a loader.
 * Each entry is a literal `import()`, so a bundler (scripts/build-cli.ts) can include the commands
 * while each command's module is still loaded only when that command runs (or `help` lists it).
 * test/cli/registry.test.ts fails when a file under cli/commands is missing here.
 */
export interface CommandModule {
  /** One line for `help`. */
  summary: string;
  /** Runs the command; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

export const COMMANDS: ReadonlyMap<string, () => Promise<CommandModule>> = new Map<string, () => Promise<CommandModule>>([
  ['admin', () => import('./commands/admin')],
  ['backup', () => import('./commands/backup')],
  ['keygen', () => import('./commands/keygen')],
  ['list', () => import('./commands/list')],
  ['prune', () => import('./commands/prune')],
  ['reindex', () => import('./commands/reindex')],
  ['restore', () => import('./commands/restore')],
  ['run-scheduled', () => import('./commands/run-scheduled')],
  ['show', () => import('./commands/show')],
  ['verify', () => import('./commands/verify')],
  ['version', () => import('./commands/version')],
]);
