import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { withClient } from '../helpers/db';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { archiveKey } from '../../lib/backup/manifest';

const execFileAsync = promisify(execFile);

/** server_version_num of the server behind url. */
export async function serverVersionNum(url: string): Promise<number> {
  return withClient(url, async (c) => Number((await c.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v));
}

/** pg_dump (15) can read this server: only then is it used as the schema oracle. */
export async function pgDumpUsable(url: string): Promise<boolean> {
  return Math.floor((await serverVersionNum(url)) / 10000) <= 15;
}

/**
 * Order-independent content hash of every table in the schemas: md5 over the sorted md5s of its
 * rows' text forms, with the row count. Two databases with identical rows give identical maps.
 */
export async function tableHashes(url: string, schemas = ['public']): Promise<Record<string, { rows: number; hash: string }>> {
  return withClient(url, async (c) => {
    const tables = await c.query(
      `SELECT n.nspname AS s, c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'm') ORDER BY 1, 2`,
      [schemas],
    );
    const out: Record<string, { rows: number; hash: string }> = {};
    for (const { s, t } of tables.rows) {
      const q = `"${s.replace(/"/g, '""')}"."${t.replace(/"/g, '""')}"`;
      const r = await c.query(`SELECT count(*)::int AS n, coalesce(md5(string_agg(h, '' ORDER BY h)), '') AS hash FROM (SELECT md5((x.*)::text) AS h FROM ONLY ${q} x) y`);
      out[`${s}.${t}`] = { rows: r.rows[0].n, hash: r.rows[0].hash };
    }
    return out;
  });
}

/** `pg_dump --schema-only --no-owner --no-privileges`, without the random \restrict lines. */
export async function schemaDump(url: string): Promise<string> {
  const { stdout } = await execFileAsync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', '-d', url], { maxBuffer: 64 << 20 });
  return stdout
    .split('\n')
    .filter((l) => !/^\\(un)?restrict /.test(l))
    .join('\n');
}

/**
 * A catalog fingerprint for servers pg_dump 15 cannot read: columns (type, default, nullability,
 * generation, identity), constraints, indexes, triggers, views, functions, sequences, policies,
 * comments — everything as the server's own deparsers print it.
 */
export async function catalogFingerprint(url: string, schemas = ['public']): Promise<string[]> {
  return withClient(url, async (c) => {
    const q = async (sql: string) => (await c.query(sql, [schemas])).rows.map((r) => Object.values(r).join(' | '));
    return [
      ...(await q(`SELECT table_schema, table_name, column_name, ordinal_position, data_type, udt_name, column_default, is_nullable, is_identity, identity_generation, is_generated, generation_expression, collation_name
                     FROM information_schema.columns WHERE table_schema = ANY($1) ORDER BY 1, 2, 4`)),
      ...(await q(`SELECT n.nspname, c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class')
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) ORDER BY 1, 2`)),
      ...(await q(`SELECT n.nspname, conrelid::regclass::text, conname, pg_get_constraintdef(co.oid) FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
                     WHERE n.nspname = ANY($1) ORDER BY 1, 2, 3`)),
      ...(await q(`SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY($1) ORDER BY 1, 2, 3`)),
      ...(await q(`SELECT n.nspname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = ANY($1) AND NOT t.tgisinternal ORDER BY 1, 2`)),
      ...(await q(`SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname = ANY($1) ORDER BY 1, 2`)),
      ...(await q(`SELECT n.nspname, p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = ANY($1) AND p.prokind IN ('f', 'p') ORDER BY 1, 2, 3`)),
      ...(await q(`SELECT schemaname, sequencename, data_type, start_value, increment_by, last_value FROM pg_sequences WHERE schemaname = ANY($1) ORDER BY 1, 2`)),
      ...(await q(`SELECT schemaname, tablename, policyname, cmd, qual, with_check FROM pg_policies WHERE schemaname = ANY($1) ORDER BY 1, 2, 3`)),
      ...(await q(`SELECT n.nspname, t.typname, t.typtype, format_type(t.oid, NULL) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                     WHERE n.nspname = ANY($1) AND t.typtype IN ('e', 'd', 'c') ORDER BY 1, 2`)),
      ...(await q(`SELECT e.extname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = ANY($1) ORDER BY 1`)),
    ];
  });
}

/** Copies a backup's archive from storage into a local file. */
export async function downloadArchive(storage: StorageBackend, id: string, file: string): Promise<void> {
  await pipeline(await storage.get(archiveKey(id)), createWriteStream(file));
}

/** `gunzip -c file | psql -v ON_ERROR_STOP=1 -q -d url`, as an operator would. Rejects with psql's stderr. */
export async function gunzipIntoPsql(file: string, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sh = spawn('bash', ['-o', 'pipefail', '-c', 'gunzip -c "$1" | psql -X -v ON_ERROR_STOP=1 -q -d "$2"', 'bash', file, url], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    sh.stderr.on('data', (d) => (err += d));
    sh.on('error', reject);
    sh.on('close', (code) => (code === 0 && !/ERROR/.test(err) ? resolve() : reject(new Error(`psql restore failed (exit ${code}): ${err.slice(0, 2000)}`))));
  });
}
