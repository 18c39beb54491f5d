import { createHash } from 'node:crypto';
import type pg from 'pg';
import { qualifiedName } from './quote-ident';

/**
 * Sequence VALUES in the schema fingerprint. A sequence's definition is fingerprinted with its
 * relation; its state (last_value, is_called) is what the archive's sequence-set member restores,
 * and nothing compared it: a drill passed with every sequence restored to 1 (the next INSERT then
 * collides with restored ids), e.g. a sequence-set member edited with its checksums fixed up, or a
 * restore path that skipped it. The backup adds one key per sequence it dumped, hashed from the
 * values it read in its snapshot (the very values it writes as setval), and a marker key; a drill
 * of a manifest with the marker reads the restored sequences and compares. Manifests written
 * before have no marker: their drills compare what they always did.
 */
export const SEQUENCE_VALUES_KEY = '~sequence values';
export const SEQUENCE_VALUE_PREFIX = 'sequence value ';

function valueHash(lastValue: string, isCalled: boolean): string {
  return createHash('sha256').update(`${lastValue} ${isCalled}`).digest('hex').slice(0, 16);
}

/** The fingerprint keys for sequence values read by the backup (dump-schema SequenceValue). */
export function sequenceValueEntries(seqs: ReadonlyArray<{ schema: string; name: string; lastValue: string; isCalled: boolean }>): Record<string, string> {
  const out: Record<string, string> = { [SEQUENCE_VALUES_KEY]: '1' };
  for (const s of seqs) out[`${SEQUENCE_VALUE_PREFIX}${qualifiedName(s.schema, s.name)}`] = valueHash(s.lastValue, s.isCalled);
  return out;
}

/** Sequences read per query: one UNION ALL of thousands plans quadratically (dump-schema.ts). */
const PER_QUERY = 100;

/**
 * The same keys read from a restored database: every sequence of `schemas` that is not an
 * extension member (those the backup does not dump either).
 */
export async function restoredSequenceValues(client: pg.ClientBase, schemas: string[]): Promise<Record<string, string>> {
  const seqs = (
    await client.query<{ nspname: string; relname: string }>(
      `SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND n.nspname = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`,
      [schemas],
    )
  ).rows;
  const out: Record<string, string> = { [SEQUENCE_VALUES_KEY]: '1' };
  for (let from = 0; from < seqs.length; from += PER_QUERY) {
    const part = seqs.slice(from, from + PER_QUERY);
    const sql = part.map((s, j) => `SELECT ${j} AS i, last_value::text AS v, is_called FROM ${qualifiedName(s.nspname, s.relname)}`).join(' UNION ALL ');
    for (const row of (await client.query<{ i: number; v: string; is_called: boolean }>(sql)).rows) {
      const s = part[row.i];
      out[`${SEQUENCE_VALUE_PREFIX}${qualifiedName(s.nspname, s.relname)}`] = valueHash(row.v, row.is_called);
    }
  }
  return out;
}
