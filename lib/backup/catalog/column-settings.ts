import { createHash } from 'node:crypto';
import type pg from 'pg';
import { qualifiedName } from './quote-ident';

/**
 * Per-column storage settings in the schema fingerprint: `SET COMPRESSION` (attcompression) and
 * `SET (n_distinct = ...)` (attoptions) are dumped (kinds/relations.ts), but the fingerprint the
 * drill compares did not cover them: a restore that lost every lz4 setting or planner override
 * still had a passing drill. The backup adds one key per relation that has such a setting, and a
 * marker key; a drill of a manifest with the marker reads the restored relations and compares
 * (manifests written before have no marker: their drills compare what they always did).
 * Only what the dump restores is compared: compression on any relation of the schemas that is not
 * an extension member, and attoptions' n_distinct / n_distinct_inherited (ALTER COLUMN SET accepts
 * nothing else).
 */
export const COLUMN_SETTINGS_KEY = '~column settings';
export const COLUMN_SETTINGS_PREFIX = 'column settings ';

export async function columnSettings(client: pg.ClientBase, schemas: string[]): Promise<Record<string, string>> {
  const r = await client.query<{ nspname: string; relname: string; s: string }>(
    `SELECT n.nspname, c.relname,
            string_agg(concat_ws(' ', pg_catalog.quote_ident(a.attname),
                         CASE WHEN a.attcompression <> '' THEN 'compression ' || a.attcompression::text END,
                         (SELECT 'options ' || string_agg(o, ',' ORDER BY o) FROM pg_catalog.unnest(a.attoptions) o WHERE o ~ '^n_distinct(_inherited)?=')),
                       '; ' ORDER BY a.attnum) AS s
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'm', 'f', 'v', 'c') AND a.attnum > 0 AND NOT a.attisdropped
        AND (a.attcompression <> '' OR EXISTS (SELECT 1 FROM pg_catalog.unnest(a.attoptions) o WHERE o ~ '^n_distinct(_inherited)?='))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
      GROUP BY n.nspname, c.relname`,
    [schemas],
  );
  const out: Record<string, string> = { [COLUMN_SETTINGS_KEY]: '1' };
  // Hashed (as sequence values are): a column name may hold the '/' that separates a value's deparsed half.
  for (const row of r.rows) out[`${COLUMN_SETTINGS_PREFIX}${qualifiedName(row.nspname, row.relname)}`] = createHash('sha256').update(row.s).digest('hex').slice(0, 16);
  return out;
}
