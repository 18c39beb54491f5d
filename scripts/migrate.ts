/**
 * `npm run db:migrate`: applies the numbered migrations in db/migrations to DATABASE_URL and prints
 * what it applied. Idempotent: a second run applies nothing. Any failure is one line on stderr and
 * exit code 1 (a failing migration is rolled back by lib/db/migrate, so nothing is half-applied).
 */
import { migrate } from '../lib/db/migrate';
import { databaseUrl } from '../lib/db/pool';
import { exitCode, oneLine, toAppError } from '../lib/errors';

async function main(): Promise<number> {
  try {
    const url = databaseUrl();
    const applied = await migrate(url);
    if (applied.length === 0) console.log('db:migrate: database is up to date (nothing to apply)');
    else for (const name of applied) console.log(`db:migrate: applied ${name}`);
    return 0;
  } catch (err) {
    const e = toAppError(err);
    console.error(`db:migrate: ${oneLine(e.message)}`);
    return exitCode(e.code);
  }
}

process.exitCode = await main();
