import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { quoteIdentAlways } from '../backup/catalog/quote-ident';
import { AppError } from '../errors';
import { TICKETHUB_TABLES } from '../seed/seed-demo-data';
import type { TicketHubTable } from '../seed/seed-demo-data';

/** Only the ten TicketHub tables can be exported (never backup_runs, sessions, catalogs...). */
export const EXPORTABLE_TABLES: readonly TicketHubTable[] = TICKETHUB_TABLES;

/**
 * Columns that are never exported: credentials and anything named like one. The explicit names
 * document the known secrets; the pattern catches columns a later migration adds.
 */
const SECRET_COLUMNS = new Set(['admin_users.password_hash', 'invitations.token_hash']);
const SECRET_PATTERN = /password|token|secret|hash/i;

/** True for a column that must never leave the database in an export. */
export function isSecretColumn(table: string, column: string): boolean {
  return SECRET_COLUMNS.has(`${table}.${column}`) || SECRET_PATTERN.test(column);
}

/** UTF-8 byte order mark: without it Excel reads the CSV as ANSI and garbles Amharic. */
export const UTF8_BOM = '\uFEFF';

/** Parses an export request's table name; anything outside the whitelist is AppError('bad_request') naming the allowed ones. */
export function exportableTable(name: string): TicketHubTable {
  if ((EXPORTABLE_TABLES as readonly string[]).includes(name)) return name as TicketHubTable;
  throw new AppError('bad_request', `table ${JSON.stringify(name.slice(0, 100))} cannot be exported; allowed: ${EXPORTABLE_TABLES.join(', ')}`);
}

const q = quoteIdentAlways;

/** The exported columns of a table, in table order: every column except secrets (isSecretColumn). */
export async function exportColumns(db: Pick<pg.ClientBase, 'query'>, table: TicketHubTable): Promise<string[]> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  if (rows.length === 0) throw new AppError('not_found', `table public.${table} does not exist`);
  return rows.map((r) => r.column_name).filter((c) => !isSecretColumn(table, c));
}

/** Primary-key columns in key order (the export's ORDER BY, so exports are reproducible). */
async function primaryKey(db: Pick<pg.ClientBase, 'query'>, table: TicketHubTable): Promise<string[]> {
  const { rows } = await db.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = format('public.%I', $1::text)::regclass AND i.indisprimary
      ORDER BY k.n`,
    [table],
  );
  return rows.map((r) => r.attname);
}

/** Exported columns holding free text (customers type their own names): candidates for formula cells. */
async function textColumns(db: Pick<pg.ClientBase, 'query'>, table: TicketHubTable): Promise<Set<string>> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 AND data_type IN ('text', 'character varying', 'character')`,
    [table],
  );
  return new Set(rows.map((r) => r.column_name));
}

/**
 * One exported column. Spreadsheets run a cell that starts with = + - @ (or tab/CR before one) as
 * a formula, and customer-chosen names reach this export: such text cells get a leading ' (the
 * OWASP CSV-injection advice), which spreadsheets show as plain text.
 */
function exportExpression(column: string, text: boolean): string {
  if (!text) return q(column);
  return `CASE WHEN left(${q(column)}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || ${q(column)} ELSE ${q(column)} END AS ${q(column)}`;
}

/** The COPY statement that writes one table's exportable columns as CSV with a header. */
function copySql(table: TicketHubTable, columns: string[], pk: string[], text: Set<string>): string {
  const order = pk.length ? ` ORDER BY ${pk.map(q).join(', ')}` : '';
  return `COPY (SELECT ${columns.map((c) => exportExpression(c, text.has(c))).join(', ')} FROM public.${q(table)}${order}) TO STDOUT WITH (FORMAT csv, HEADER)`;
}

export interface CsvExport {
  /** The CSV bytes (BOM first), streamed from COPY as they arrive; never a whole table in memory. */
  stream: ReadableStream<Uint8Array>;
  /** The exported columns per table (secrets removed). */
  columns: Record<string, string[]>;
}

/**
 * Opens a CSV export of `tables` on one pooled connection, inside one REPEATABLE READ READ ONLY
 * transaction so several tables are a consistent snapshot. With one table the body is that
 * table's CSV; with several, each table is a section: a `# table: name` line, its CSV with header,
 * and a blank line between sections. Everything that can be refused (unknown table, database
 * down) fails here, before a response starts; the connection is released when the stream ends,
 * fails or is cancelled (a cancelled COPY's connection is discarded, not reused).
 */
export async function openCsvExport(pool: pg.Pool, tables: readonly TicketHubTable[]): Promise<CsvExport> {
  const client = await pool.connect();
  const columns: Record<string, string[]> = {};
  const statements: { table: TicketHubTable; sql: string }[] = [];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Unambiguous, locale-independent text for dates and floats, whatever the server defaults are.
    await client.query(`SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3`);
    for (const t of tables) {
      columns[t] = await exportColumns(client, t);
      statements.push({ table: t, sql: copySql(t, columns[t], await primaryKey(client, t), await textColumns(client, t)) });
    }
  } catch (err) {
    client.release(true);
    throw err;
  }

  const sectioned = tables.length > 1;
  const enc = new TextEncoder();
  let started = false;
  async function* body(): AsyncGenerator<Uint8Array> {
    started = true;
    let ok = false;
    try {
      yield enc.encode(UTF8_BOM);
      for (const [i, s] of statements.entries()) {
        if (sectioned) yield enc.encode(`${i > 0 ? '\n' : ''}# table: ${s.table}\n`);
        const copy = client.query(copyTo(s.sql));
        for await (const chunk of copy) yield chunk as Buffer;
      }
      await client.query('COMMIT');
      ok = true;
    } finally {
      // A stream stopped mid-COPY leaves the connection in an unknown protocol state: destroy it.
      client.release(ok ? undefined : true);
    }
  }
  const it = body();
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const r = await it.next();
        if (r.done) ctrl.close();
        else ctrl.enqueue(r.value);
      } catch (err) {
        ctrl.error(err);
      }
    },
    async cancel() {
      await it.return(undefined);
      // A generator cancelled before its first pull never ran its finally: release here.
      if (!started) client.release(true);
    },
  });
  return { stream, columns };
}
