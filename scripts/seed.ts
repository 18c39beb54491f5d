/**
 * `npm run db:seed -- [--scale N] [--force] [--base-date YYYY-MM-DD]`: fills the ten TicketHub tables of DATABASE_URL with
 * deterministic demo data (about N tickets; default 2000), dated relative to the base date (default
 * today, UTC: upcoming trips exist; the same base date gives byte-identical rows). Refuses a database that already has
 * TicketHub data unless --force, which empties those tables first. Failures: one line, exit 1
 * (exit 2 for bad arguments).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { databaseUrl } from '../lib/db/pool';
import { AppError, exitCode, oneLine, toAppError } from '../lib/errors';
import { DEFAULT_SEED_SCALE, parseBaseDate, seedDemoData } from '../lib/seed/seed-demo-data';

function parseScale(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_SEED_SCALE;
  if (!/^[0-9][0-9_]*$/.test(raw)) throw new AppError('usage', `--scale must be a whole number, got '${raw}'`);
  return Number(raw.replace(/_/g, ''));
}

async function main(): Promise<number> {
  let client: pg.Client | undefined;
  try {
    let values;
    try {
      ({ values } = parseArgs({ args: process.argv.slice(2), options: { scale: { type: 'string' }, force: { type: 'boolean' }, 'base-date': { type: 'string' } }, strict: true }));
    } catch (err) {
      throw new AppError('usage', `${(err as Error).message} (usage: npm run db:seed -- [--scale N] [--force] [--base-date YYYY-MM-DD])`);
    }
    const scale = parseScale(values.scale);
    const baseDate = values['base-date'] === undefined ? undefined : parseBaseDate(values['base-date']);
    const url = databaseUrl();
    client = new pg.Client({ connectionString: url, application_name: 'tickethub-seed' });
    try {
      await client.connect();
    } catch (err) {
      throw toAppError(err, 'cannot connect to the database');
    }
    client.on('error', () => {});
    console.log(`db:seed: seeding demo data at scale ${scale}${values.force ? ' (--force: existing TicketHub data will be replaced)' : ''}...`);
    const r = await seedDemoData(client, { scale, force: values.force, baseDate });
    if (r.replacedExisting) console.log('db:seed: --force: emptied the ten TicketHub tables before seeding');
    for (const [table, n] of Object.entries(r.counts)) console.log(`db:seed:   ${table.padEnd(18)} ${n}`);
    console.log(`db:seed: done in ${(r.durationMs / 1000).toFixed(1)} s (base date ${r.baseDate})`);
    return 0;
  } catch (err) {
    const e = toAppError(err);
    console.error(`db:seed: ${oneLine(e.message)}`);
    return exitCode(e.code);
  } finally {
    await client?.end().catch(() => {});
  }
}

process.exitCode = await main();
