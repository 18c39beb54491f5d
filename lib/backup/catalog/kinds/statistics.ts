import type { DumpGraph } from '../dump-graph';
import { qualifiedName } from '../quote-ident';
import { PG_STATISTIC_EXT } from './kind-types';
import { addRelationEntry, dumpedRelation, type RelationNodes } from './relations';

/** Extended statistics objects (CREATE STATISTICS), with their statistics target. */
export function buildStatistics(g: DumpGraph, rels: RelationNodes): void {
  for (const st of g.cat.statistics) {
    const rel = dumpedRelation(g, rels, st.stxrelid);
    if (!rel) continue;
    const q = qualifiedName(st.nspname, st.stxname);
    let sql = `${st.def};\n`;
    if (st.stattarget !== null && st.stattarget >= 0) sql += `ALTER STATISTICS ${q} SET STATISTICS ${st.stattarget};\n`;
    addRelationEntry(g, rel, { kind: 'STATISTICS', schema: st.nspname, name: st.stxname, sql, classid: PG_STATISTIC_EXT, oid: st.oid, commentTarget: `STATISTICS ${q}` });
  }
}
