import type { DumpGraph } from '../dump-graph';
import { qualifiedName, quoteIdent } from '../quote-ident';
import { catalogKey, PG_CLASS } from './kind-types';
import { dumpedRelation, type RelationNodes } from './relations';

/**
 * Indexes (a constraint's index is created by its constraint: only CLUSTER / REPLICA IDENTITY
 * are added to it), then the partitioned indexes' INDEX ATTACH entries.
 */
export function buildIndexes(g: DumpGraph, rels: RelationNodes): void {
  for (const ix of g.cat.indexes) {
    const rel = dumpedRelation(g, rels, ix.indrelid);
    if (!rel) continue;
    const q = qualifiedName(ix.nspname, ix.relname);
    const tq = rel.q;
    let node = g.nodeFor(PG_CLASS, ix.oid);
    if (!ix.conoid || !node) {
      let sql = `${ix.def};\n`;
      if (ix.indisclustered) sql += `ALTER TABLE ${tq} CLUSTER ON ${quoteIdent(ix.relname)};\n`;
      node = g.add({ section: 'post-data', kind: 'INDEX', schema: ix.nspname, name: ix.relname, table: rel.r.relname, sql }, catalogKey(PG_CLASS, ix.oid));
      node.deps.add(rel.node);
    } else if (ix.indisclustered) {
      node.obj.sql += `ALTER TABLE ${tq} CLUSTER ON ${quoteIdent(ix.relname)};\n`;
    }
    if (ix.indisreplident) node.obj.sql += `ALTER TABLE ONLY ${tq} REPLICA IDENTITY USING INDEX ${quoteIdent(ix.relname)};\n`;
    for (const [attnum, target] of ix.stattargets ?? []) node.obj.sql += `ALTER INDEX ${q} ALTER COLUMN ${attnum} SET STATISTICS ${target};\n`;
    g.comment(node, `INDEX ${q}`, PG_CLASS, ix.oid);
  }
  const ixByOid = new Map(g.cat.indexes.map((i) => [i.oid, i]));
  for (const ix of g.cat.indexes) {
    const parent = ix.parentidx ? ixByOid.get(ix.parentidx) : undefined;
    const own = g.nodeFor(PG_CLASS, ix.oid);
    const pn = parent && g.nodeFor(PG_CLASS, parent.oid);
    if (!parent || !own || !pn) continue;
    const a = g.add({
      section: 'post-data',
      kind: 'INDEX ATTACH',
      schema: ix.nspname,
      name: ix.relname,
      table: g.relByOid.get(ix.indrelid)?.relname,
      sql: `ALTER INDEX ${qualifiedName(parent.nspname, parent.relname)} ATTACH PARTITION ${qualifiedName(ix.nspname, ix.relname)};\n`,
    });
    a.deps.add(own);
    a.deps.add(pn);
  }
}
