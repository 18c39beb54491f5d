import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { dumpSchema, listTablesToLock, type SchemaDump } from '../../lib/backup/catalog/dump-schema';
import { qualifiedName, quoteIdent } from '../../lib/backup/catalog/quote-ident';

const exec = promisify(execFile);

/** The archive header the engine writes before pre-data (pg_dump's plain-format settings). */
export const HEADER_SQL = `SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET check_function_bodies = false;
SET client_min_messages = warning;
SELECT pg_catalog.set_config('search_path', '', false);
`;

/** Dumps `url` the way the engine does: one REPEATABLE READ READ ONLY snapshot, tables locked first. */
export async function dumpInSnapshot(
  url: string,
  opts: { schemas: string[]; excludeTableData?: string[] },
  during?: (client: pg.Client, dump: SchemaDump) => Promise<void>,
): Promise<SchemaDump> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const locks = await listTablesToLock(c, opts.schemas);
    if (locks.length) await c.query(`LOCK TABLE ${locks.join(', ')} IN ACCESS SHARE MODE`);
    const dump = await dumpSchema(c, { schemas: opts.schemas, excludeTableData: opts.excludeTableData ?? [] });
    if (during) await during(c, dump);
    await c.query('COMMIT');
    return dump;
  } finally {
    await c.end();
  }
}

/**
 * Restores a source database into the empty `targetUrl` from a fresh dump: header, pre-data, rows
 * (COPY streamed from the dump's own snapshot), sequence values, post-data. Returns the dump.
 */
export async function roundTrip(sourceUrl: string, targetUrl: string, opts: { schemas: string[]; excludeTableData?: string[] }): Promise<SchemaDump> {
  const target = new pg.Client({ connectionString: targetUrl });
  await target.connect();
  try {
    return await dumpInSnapshot(sourceUrl, opts, async (source, dump) => {
      await target.query(HEADER_SQL);
      for (const o of dump.objects.filter((o) => o.section === 'pre-data')) await execObject(target, o.sql, `${o.kind} ${o.name}`);
      for (const t of dump.tables) {
        if (t.dataExcluded) continue;
        const q = qualifiedName(t.schema, t.name);
        // A table without columns still has rows: COPY takes no (empty) column list for it.
        const cols = t.columns.length ? ` (${t.columns.map(quoteIdent).join(', ')})` : '';
        await pipeline(source.query(copyTo(`COPY ${q}${cols} TO STDOUT`)), target.query(copyFrom(`COPY ${q}${cols} FROM STDIN`)));
      }
      await execObject(target, dump.sequenceSetSql, 'sequence values');
      for (const o of dump.objects.filter((o) => o.section === 'post-data')) await execObject(target, o.sql, `${o.kind} ${o.name}`);
    });
  } finally {
    await target.end();
  }
}

async function execObject(c: pg.Client, sql: string, what: string) {
  if (!sql) return;
  try {
    await c.query(sql);
  } catch (e) {
    throw new Error(`restoring ${what} failed: ${(e as Error).message}\n${sql}`, { cause: e });
  }
}

/** Server major version (15, 17, ...). */
export async function serverMajor(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    return Math.floor(Number(r.rows[0].v) / 10000);
  } finally {
    await c.end();
  }
}

/**
 * `pg_dump --schema-only --no-owner --no-privileges`, minus the lines that differ between any two
 * dumps (\restrict keys, version banners). Only usable when pg_dump's major >= the server's.
 */
export async function pgDumpSchema(url: string): Promise<string> {
  const { stdout } = await exec('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', '-d', url], { maxBuffer: 64 << 20 });
  return stdout
    .split('\n')
    .filter((l) => !/^\\(un)?restrict /.test(l) && !/^-- Dumped (from|by) /.test(l))
    .join('\n');
}

/** Loads a SQL file with psql (fixtures are psql scripts). */
export async function psqlFile(url: string, file: string): Promise<void> {
  await exec('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', url, '-f', file], { maxBuffer: 64 << 20 });
}

let pgDumpMajor: number | null | undefined;
/** Major version of the pg_dump on PATH, or null when there is none. */
export async function localPgDumpMajor(): Promise<number | null> {
  if (pgDumpMajor !== undefined) return pgDumpMajor;
  try {
    const { stdout } = await exec('pg_dump', ['--version']);
    pgDumpMajor = Number(/(\d+)\./.exec(stdout)?.[1] ?? NaN) || null;
  } catch {
    pgDumpMajor = null;
  }
  return pgDumpMajor;
}
