import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { expect } from 'vitest';
import { needsFormulaGuard } from '../../lib/queries/csv-formula-guard';
import { exportColumns } from '../../lib/queries/table-export';
import type { TicketHubTable } from '../../lib/seed/seed-demo-data';

/** Parses CSV text with a real parser (csv-parse); an unquoted empty field is NULL, a quoted one the empty string. */
export function parseCsv(text: string): (string | null)[][] {
  return parse(text, { bom: true, relax_column_count: false, cast: (value, ctx) => (ctx.quoting ? value : value === '' ? null : value) }) as (string | null)[][];
}

export interface TableOracle {
  columns: string[];
  types: Record<string, string>;
  rows: (string | null)[][];
}

/** The database's own text for each exported column of `table` (as PostgreSQL prints it in zone `tz`), in key order. */
export async function dbRows(url: string, table: string, tz = 'Africa/Addis_Ababa'): Promise<TableOracle> {
  const c = new pg.Client({ connectionString: url, types: { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig });
  await c.connect();
  try {
    await c.query(`SELECT set_config('TimeZone', $1, false)`, [tz]);
    await c.query(`SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3`);
    const columns = await exportColumns(c, table as TicketHubTable);
    const types = Object.fromEntries(
      (await c.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, [table])).rows.map((r) => [r.column_name, r.data_type]),
    );
    const pk = (await c.query(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary`, [`public.${table}`])).rows.map((r) => `"${r.attname}"`);
    const rows = (await c.query({ text: `SELECT ${columns.map((x) => `"${x}"`).join(', ')} FROM public."${table}" ORDER BY ${pk.join(', ')}`, rowMode: 'array' })).rows as (string | null)[][];
    return { columns, types, rows };
  } finally {
    await c.end();
  }
}

/** What a spreadsheet-friendly export must hold for a database value (computed independently of the exporter). */
export function expectedCell(v: string | null, type: string): string | null {
  if (v === null) return null;
  if (type === 'boolean') return v === 't' ? 'true' : 'false';
  if (type === 'timestamp with time zone') {
    // PostgreSQL ISO output '2025-03-01 08:00:00.12+03' → ISO 8601 '2025-03-01T08:00:00.12+03:00'.
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::(\d{2}))?$/.exec(v);
    if (!m) throw new Error(`unexpected timestamp text ${v}`);
    return `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}`;
  }
  return v;
}

/** Asserts a parsed CSV equals the database rows cell for cell (formula-like text with exactly one leading '). */
export function compareTable(table: string, csv: (string | null)[][], oracle: TableOracle): void {
  expect(csv[0], table).toEqual(oracle.columns);
  expect(csv.length - 1, table).toBe(oracle.rows.length);
  oracle.rows.forEach((row, i) => {
    row.forEach((v, j) => {
      const col = oracle.columns[j];
      const want = expectedCell(v, oracle.types[col]);
      const got = csv[i + 1][j];
      if (typeof want === 'string' && /^[=@\t\r+-]/.test(want) && got !== want) {
        expect(got, `${table}.${col} row ${i}`).toBe(`'${want}`);
        expect(needsFormulaGuard(want), want).toBe(true);
      } else {
        expect(got, `${table}.${col} row ${i}`).toBe(want);
      }
    });
  });
}
