import type { DumpGraph } from '../dump-graph';
import type { ConstraintRow } from '../read-catalog';
import { quoteIdent } from '../quote-ident';
import { catalogKey, PG_CLASS, PG_CONSTRAINT } from './kind-types';
import { addRelationEntry, dumpedRelation, relOption, type RelationNodes } from './relations';

/** Table constraints (post-data), except the CHECKs printed inside CREATE TABLE (relations.ts). */
export function buildConstraints(g: DumpGraph, rels: RelationNodes): void {
  for (const con of g.cat.constraints) {
    const rel = rels.inlineChecks.has(con.oid) ? undefined : dumpedRelation(g, rels, con.conrelid);
    if (!rel) continue;
    if (con.contype === 'c' && !con.conislocal) continue; // inherited: comes with its parent's
    if (con.contype === 'f' && con.conparentid !== 0) continue; // cloned onto partitions by the parent's FK
    const only = con.contype === 'f' && rel.r.relkind === 'p' ? '' : con.contype === 'c' ? '' : 'ONLY ';
    const kind = con.contype === 'f' ? 'FK CONSTRAINT' : con.contype === 'c' ? 'CHECK CONSTRAINT' : 'CONSTRAINT';
    addRelationEntry(g, rel, {
      kind,
      schema: rel.r.nspname,
      name: con.conname,
      sql: `ALTER TABLE ${only}${rel.q}\n    ADD CONSTRAINT ${quoteIdent(con.conname)} ${constraintDef(con)};\n`,
      classid: PG_CONSTRAINT,
      oid: con.oid,
      commentTarget: `CONSTRAINT ${quoteIdent(con.conname)} ON ${rel.q}`,
      extraKeys: con.conindid && con.contype !== 'f' ? [catalogKey(PG_CLASS, con.conindid)] : [],
    });
  }
  for (const con of g.cat.constraints) {
    // comments on inline CHECKs belong to the table
    const rel = rels.inlineChecks.has(con.oid) ? dumpedRelation(g, rels, con.conrelid) : undefined;
    if (rel) g.comment(rel.node, `CONSTRAINT ${quoteIdent(con.conname)} ON ${rel.q}`, PG_CONSTRAINT, con.oid);
  }
}

/**
 * The constraint's definition as it is added back. pg_get_constraintdef prints no storage
 * parameters for a PRIMARY KEY or UNIQUE constraint (it does for EXCLUDE): its index's
 * `WITH (fillfactor=…)` goes where the grammar wants it, after INCLUDE and before DEFERRABLE, as
 * pg_dump prints it. Without it the index came back with the default parameters.
 */
export function constraintDef(con: Pick<ConstraintRow, 'def' | 'indexOptions'>): string {
  if (!con.indexOptions?.length) return con.def;
  const withClause = ` WITH (${con.indexOptions.map(relOption).join(', ')})`;
  const at = con.def.search(/ DEFERRABLE( INITIALLY (DEFERRED|IMMEDIATE))?$| INITIALLY DEFERRED$/);
  return at < 0 ? con.def + withClause : con.def.slice(0, at) + withClause + con.def.slice(at);
}
