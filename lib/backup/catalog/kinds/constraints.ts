import type { DumpGraph } from '../dump-graph';
import { quoteIdent } from '../quote-ident';
import { catalogKey, PG_CLASS, PG_CONSTRAINT } from './kind-types';
import { addRelationEntry, dumpedRelation, type RelationNodes } from './relations';

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
      sql: `ALTER TABLE ${only}${rel.q}\n    ADD CONSTRAINT ${quoteIdent(con.conname)} ${con.def};\n`,
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
