/**
 * A "catalog-scale" database for the benchmarks: `tables` small tables t00001..tNNNNN (10 rows
 * each) chained by foreign keys (t_i.parent_id -> t_{i-1}.id: tables - 1 FKs), each with a
 * primary key, a serial sequence and an index. Created in batches of BATCH tables per transaction,
 * so that building it never needs more locks than stock settings (max_locks_per_transaction 64 x
 * max_connections 100) provide.
 *
 * Usage from the benchmarks: `await ensureCatalogScaleDatabase(serverUrl, 'name', 5000)` (reused
 * when complete). Stand-alone: `tsx scripts/catalog-scale-db.ts <server-url> <name> <tables>`.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { quoteIdent } from '../lib/backup/catalog/quote-ident';

const BATCH = 200;
const ROWS_PER_TABLE = 10;

export function dbUrl(server: string, db: string): string {
  const u = new URL(server);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function ensureCatalogScaleDatabase(server: string, name: string, tables: number): Promise<string> {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
    if (!exists) await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await admin.end();
  }
  const url = dbUrl(server, name);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const ready = await c.query(`SELECT to_regclass('public.catalog_ready') IS NOT NULL AS ok`);
    if (ready.rows[0].ok && (await c.query('SELECT tables FROM catalog_ready')).rows[0]?.tables === tables) return url;
    process.stderr.write(`creating ${name}: ${tables} tables, ${tables - 1} foreign keys, ${tables * ROWS_PER_TABLE} rows (once) ...\n`);
    await c.query('DROP TABLE IF EXISTS catalog_ready');
    const existing = Number((await c.query(`SELECT count(*) AS n FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relname ~ '^t[0-9]+$'`)).rows[0].n);
    for (let from = existing + 1; from <= tables; from += BATCH) {
      const to = Math.min(tables, from + BATCH - 1);
      await c.query(`DO $$
        DECLARE i int; t text; p text;
        BEGIN
          FOR i IN ${from}..${to} LOOP
            t := format('t%s', lpad(i::text, 5, '0'));
            p := format('t%s', lpad((i - 1)::text, 5, '0'));
            EXECUTE format('CREATE TABLE public.%I (id serial PRIMARY KEY, parent_id int%s, label text NOT NULL, amount numeric(12,2), created_at timestamptz NOT NULL DEFAULT now())',
                           t, CASE WHEN i > 1 THEN format(' REFERENCES public.%I (id)', p) ELSE '' END);
            EXECUTE format('CREATE INDEX ON public.%I (created_at)', t);
            EXECUTE format('INSERT INTO public.%I (parent_id, label, amount, created_at) SELECT CASE WHEN %s > 1 THEN g END, ''row '' || g || '' of %s'', g * 1.25, timestamptz ''2026-01-01 00:00:00+00'' + g * interval ''1 hour'' FROM generate_series(1, ${ROWS_PER_TABLE}) g', t, i, t);
          END LOOP;
        END $$`);
      process.stderr.write(`  ${to}/${tables}\r`);
    }
    // VACUUM too, catalogs included, as a database in service is: one just filled has hint bits
    // unset on ~100,000 new catalog rows and autovacuum about to work through its catalogs, and the
    // first timed rounds measured that (2026-12-04, ANALYZE only: ours 1.59x pg_dump -Fc, 217 MB
    // peak right after the build, 1.44x and 191 MB on the same database 20 minutes later; rebuilt
    // with this VACUUM, 1.49x and 192 MB right after the build).
    await c.query('VACUUM (ANALYZE)');
    await c.query(`CREATE TABLE catalog_ready (tables int NOT NULL)`);
    await c.query(`INSERT INTO catalog_ready VALUES (${tables})`);
    process.stderr.write('\n');
    return url;
  } finally {
    await c.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [server, name, n] = process.argv.slice(2);
  ensureCatalogScaleDatabase(server, name, Number(n)).then(
    (u) => process.stdout.write(`${u}\n`),
    (e) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
