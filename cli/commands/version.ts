import { APP_VERSION } from '../../lib/version';

export const summary = 'print the version';

export async function run(): Promise<number> {
  process.stdout.write(`tickethub-backup ${APP_VERSION}\n`);
  return 0;
}
