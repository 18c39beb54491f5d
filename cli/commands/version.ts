import { APP_VERSION } from '../../lib/version';
import { parseCommandArgs } from '../parse-command-args';

export const summary = 'print the version';

export async function run(argv: string[]): Promise<number> {
  parseCommandArgs(argv, {}, 'Usage: tickethub-backup version');
  process.stdout.write(`tickethub-backup ${APP_VERSION}\n`);
  return 0;
}
