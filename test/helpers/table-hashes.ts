import pg from 'pg';

export interface TableHash {
  rows: number;
  /** md5 over the sorted md5(row::text) of every row: independent of physical row order. */
  hash: string;
}

/**
 * Content fingerprint of every ordinary table (and leaf partition) in `schemas`: 'schema.table' ->
 * row count + order-independent hash. Two databases hold the same rows exactly when the maps are
 * equal. Reads in one REPEATABLE READ snapshot.
 */
export async function tableHashes(url: string, schemas: string[] = ['public']): Promise<Map<string, TableHash>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const t = await c.query<{ nspname: string; relname: string; q: string }>(
      `SELECT n.nspname, c.relname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS q
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1::text[]) AND c.relkind = 'r'
        ORDER BY 1, 2`,
      [schemas],
    );
    const out = new Map<string, TableHash>();
    for (const r of t.rows) {
      const h = await c.query<{ n: string; h: string }>(
        `SELECT count(*) AS n, md5(coalesce(string_agg(x.h, '' ORDER BY x.h), '')) AS h
           FROM (SELECT md5((t.*)::text) AS h FROM ONLY ${r.q} t) x`,
      );
      out.set(`${r.nspname}.${r.relname}`, { rows: Number(h.rows[0].n), hash: h.rows[0].h });
    }
    await c.query('COMMIT');
    return out;
  } finally {
    await c.end();
  }
}
