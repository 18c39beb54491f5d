import { Readable, finished } from 'node:stream';
import type pg from 'pg';
import { quoteIdentAlways } from '../backup/catalog/quote-ident';
import { AppError } from '../errors';
import { appTimeZone } from '../i18n/locales';
import { CsvRowRewriter } from './csv-cell-rewriter';
import type { CellKind, CsvColumn } from './csv-cell-rewriter';
import { CsvCopyStream } from './copy-out-csv';
import { zipStream } from './zip-stream';
import type { ZipEntry } from './zip-stream';
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

/**
 * DEFLATE level of the CSV entries in the all-tables ZIP (0 would be STORE). DEFLATE, because the
 * ZIP is a download and CSV shrinks about 3.6x; level 1, because on a 2M-row activity_logs CSV
 * (594 MB) level 6 costs 2.2x the CPU of level 1 (17.0 s vs 7.8 s with gzip) for a file only 13%
 * smaller (142 vs 163 MB), and the compression runs beside COPY on a 2-core machine.
 */
export const EXPORT_ZIP_LEVEL: number = 1;

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
  return (await columnTypes(db, table)).filter((c) => !c.secret).map((c) => c.name);
}

interface ColumnType {
  name: string;
  /** information_schema data_type, e.g. 'text', 'boolean', 'timestamp with time zone'. */
  type: string;
  secret: boolean;
}

async function columnTypes(db: Pick<pg.ClientBase, 'query'>, table: TicketHubTable): Promise<ColumnType[]> {
  const { rows } = await db.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  if (rows.length === 0) throw new AppError('not_found', `table public.${table} does not exist`);
  return rows.map((r) => ({ name: r.column_name, type: r.data_type, secret: isSecretColumn(table, r.column_name) }));
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


/**
 * One exported column as COPY writes it: booleans as true/false, everything else as PostgreSQL
 * prints it (timestamps with DateStyle ISO in the session's TimeZone: the backend's cheapest
 * form); the formula guard and the ISO 8601 form of the timestamps are applied to the CSV on its
 * way out (exportColumn, csv-cell-rewriter.ts: off the database backend). NULL stays NULL, which
 * COPY writes as an empty unquoted field, while an empty string is written "" (the two stay
 * distinguishable).
 */
function exportExpression(c: ColumnType): string {
  const col = q(c.name);
  if (c.type === 'boolean') return `CASE WHEN ${col} THEN 'true' WHEN NOT ${col} THEN 'false' END AS ${col}`;
  return col;
}

/**
 * How the export rewrites a column's cells (csv-cell-rewriter.ts): text gets the formula guard
 * (csv-formula-guard.ts); timestamps become ISO 8601 with the offset of the export's time zone
 * (session TimeZone), fractional seconds only when there are any.
 */
function exportCellKind(c: ColumnType): CellKind {
  switch (c.type) {
    case 'text':
    case 'character varying':
    case 'character':
      return 'guard';
    case 'timestamp with time zone':
      return 'tstz';
    case 'timestamp without time zone':
      return 'ts';
    default:
      return 'plain';
  }
}

/**
 * Types whose text COPY never quotes in CSV (no comma, quote, CR or LF can be in it; never empty,
 * so never mistaken for NULL). booleans are exported as true/false (exportExpression).
 */
const NEVER_QUOTED = new Set(['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision', 'uuid', 'boolean', 'date', 'timestamp with time zone', 'timestamp without time zone']);

function exportColumn(c: ColumnType): CsvColumn {
  return { kind: exportCellKind(c), quotable: !NEVER_QUOTED.has(c.type) };
}

/** The COPY statement writing one table's exportable columns from `from` (a qualified name) as CSV with a header. */
function copySql(from: string, columns: ColumnType[], pk: string[]): string {
  const order = pk.length ? ` ORDER BY ${pk.map(q).join(', ')}` : '';
  return `COPY (SELECT ${columns.map(exportExpression).join(', ')} FROM ${from}${order}) TO STDOUT WITH (FORMAT csv, HEADER)`;
}

/** Where exported rows come from: the live tables, or tables loaded from a backup (backup-export-source.ts). */
export interface ExportSource {
  /** 'live' or the backup id. */
  label: string;
  /** Opens the transaction on `client` and makes the tables readable; returns the snapshot time. */
  prepare(client: pg.PoolClient, tables: readonly TicketHubTable[]): Promise<Date>;
  /** The qualified relation to read `table` from after prepare(). */
  relation(table: TicketHubTable): string;
}

/** The live database, in one REPEATABLE READ READ ONLY transaction (one consistent snapshot). */
export const LIVE_SOURCE: ExportSource = {
  label: 'live',
  async prepare(client) {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return (await client.query(`SELECT now() AS t`)).rows[0].t as Date;
  },
  relation: (t) => `public.${q(t)}`,
};

export interface ExportOptions {
  tables: readonly TicketHubTable[];
  /** 'csv': the one table's CSV; 'zip': one <table>.csv per table plus manifest.json. */
  format: 'csv' | 'zip';
  /** IANA zone the timestamps are written in; default APP_TIME_ZONE. */
  timeZone?: string;
  source?: ExportSource;
}

export interface TableExport {
  /** The bytes, streamed from COPY as they arrive (never a whole table in memory). */
  stream: ReadableStream<Uint8Array>;
  /** The exported columns per table (secrets removed). */
  columns: Record<string, string[]>;
  snapshotAt: Date;
}

interface TableStatement {
  table: TicketHubTable;
  sql: string;
  /** Per exported column, what happens to its cells on the way out. */
  cells: CsvColumn[];
  columns: string[];
  redacted: string[];
}

/** Validates an export time zone: 'UTC' or an IANA name Intl knows; AppError('bad_request') otherwise. */
export function exportTimeZone(tz: string | null | undefined): string {
  const zone = tz ?? appTimeZone();
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new AppError('bad_request', `unknown time zone ${JSON.stringify(zone.slice(0, 60))} (use tz=UTC or an IANA name such as Africa/Addis_Ababa)`);
  }
  return zone;
}

/**
 * Opens an export of `tables` on one pooled connection. Everything that can be refused (unknown
 * table, database down, a backup that does not exist or does not verify) fails here, before a
 * response starts; the connection is released when the stream ends, fails or is cancelled (a
 * cancelled COPY's connection is discarded, not reused).
 */
export async function openTableExport(pool: pg.Pool, opts: ExportOptions): Promise<TableExport> {
  const source = opts.source ?? LIVE_SOURCE;
  const client = await pool.connect();
  const statements: TableStatement[] = [];
  let snapshotAt: Date;
  try {
    snapshotAt = await source.prepare(client, opts.tables);
    // Unambiguous, locale-independent text whatever the server defaults are.
    await client.query(`SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3`);
    await client.query(`SELECT set_config('TimeZone', $1, true)`, [exportTimeZone(opts.timeZone)]);
    for (const t of opts.tables) {
      const cols = await columnTypes(client, t);
      const kept = cols.filter((c) => !c.secret);
      statements.push({ table: t, sql: copySql(source.relation(t), kept, await primaryKey(client, t)), cells: kept.map(exportColumn), columns: kept.map((c) => c.name), redacted: cols.filter((c) => c.secret).map((c) => c.name) });
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(true);
    throw err;
  }
  const columns = Object.fromEntries(statements.map((s) => [s.table, s.columns]));
  const body = opts.format === 'zip' ? zipBody(client, statements, source, snapshotAt) : csvBody(client, statements[0]);
  return { stream: toWebStream(body), columns, snapshotAt };
}

/** One table's COPY as CSV, BOM first, cells rewritten per column (formula guard, ISO 8601 timestamps). */
function csvCopy(client: pg.PoolClient, s: TableStatement, finish?: () => Promise<void>): CsvCopyStream {
  return client.query(new CsvCopyStream(s.sql, new CsvRowRewriter(s.cells), Buffer.from(UTF8_BOM, 'utf8'), finish));
}

/** One table's CSV (BOM first), then COMMIT and release; a failure or cancel discards the connection. */
function csvBody(client: pg.PoolClient, s: TableStatement): Readable {
  let ok = false;
  const copy = csvCopy(client, s, async () => {
    await client.query('COMMIT');
    ok = true;
  });
  copy.once('close', () => client.release(ok ? undefined : true));
  return copy;
}

/**
 * The export as the web stream the route returns, without copying: Readable.toWeb copies every
 * chunk (to detach it from Buffer's shared pool), 600 MB for a 2M-row table. The export's large
 * chunks have buffers of their own; only small ones (which may sit in the pool) are copied.
 */
function toWebStream(body: Readable): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        body.pause();
        body.on('data', (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(chunk.length < 4096 ? new Uint8Array(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
          if ((controller.desiredSize ?? 0) <= 0) body.pause();
        });
        finished(body, (err) => {
          if (done) return;
          done = true;
          if (err) controller.error(err);
          else controller.close();
        });
      },
      pull() {
        body.resume();
      },
      cancel(reason) {
        done = true;
        body.destroy(reason instanceof Error ? reason : new Error('export cancelled'));
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 1024 * 1024 }),
  );
}

/** A ZIP (streamed, entries written one after the other: zip-stream.ts) of one CSV per table and manifest.json. */
function zipBody(client: pg.PoolClient, statements: TableStatement[], source: ExportSource, snapshotAt: Date): Readable {
  const rows: Record<string, number> = {};
  let committed = false;
  const entries: ZipEntry[] = statements.map((s) => ({
    name: `${s.table}.csv`,
    level: EXPORT_ZIP_LEVEL,
    async *open() {
      const copy = csvCopy(client, s);
      yield* copy as AsyncIterable<Buffer>;
      rows[s.table] = copy.rowCount;
    },
  }));
  entries.push({
    name: 'manifest.json',
    level: EXPORT_ZIP_LEVEL,
    async *open() {
      const manifest = {
        format: 'tickethub-export',
        source: source.label === 'live' ? { kind: 'live' } : { kind: 'backup', backupId: source.label },
        snapshotAt: snapshotAt.toISOString(),
        exportedAt: new Date().toISOString(),
        tables: statements.map((s) => ({ name: s.table, file: `${s.table}.csv`, rows: rows[s.table] ?? 0, columns: s.columns, redactedColumns: s.redacted })),
      };
      await client.query('COMMIT');
      committed = true;
      yield Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
    },
  });
  const out = zipStream(entries);
  // Released once the ZIP is complete, failed or cancelled (a client gone mid-download): a
  // connection left mid-COPY or mid-transaction is discarded.
  out.once('close', () => client.release(committed ? undefined : true));
  return out;
}
