import type { DumpGraph } from '../dump-graph';
import { qualifiedName, quoteIdent } from '../quote-ident';
import type { SequenceRow } from '../read-catalog';
import { catalogKey, PG_CLASS } from './kind-types';

/** Which sequences belong to a column, from pg_depend. */
export interface SequenceLinks {
  /** "table oid:attnum" -> the identity column's sequence oid (created with its table). */
  identitySeq: Map<string, number>;
  /** serial sequence oid -> its OWNED BY column */
  ownedBy: Map<number, { rel: number; attnum: number }>;
}

export function sequenceLinks(g: DumpGraph): SequenceLinks {
  const identitySeq = new Map<string, number>();
  const ownedBy = new Map<number, { rel: number; attnum: number }>();
  for (const d of g.cat.depends) {
    if (d.classid === PG_CLASS && d.refclassid === PG_CLASS && g.seqByOid.has(d.objid) && d.refobjsubid > 0) {
      if (d.deptype === 'i') identitySeq.set(`${d.refobjid}:${d.refobjsubid}`, d.objid);
      else if (d.deptype === 'a') ownedBy.set(d.objid, { rel: d.refobjid, attnum: d.refobjsubid });
    }
  }
  return { identitySeq, ownedBy };
}

/** Stand-alone and serial sequences (identity ones belong to their table: relations.ts). */
export function buildSequences(g: DumpGraph, links: SequenceLinks): void {
  const identitySeqOids = new Set(links.identitySeq.values());
  const colByKey = new Map(g.cat.columns.map((c) => [`${c.attrelid}:${c.attnum}`, c]));
  for (const s of g.cat.sequences) {
    if (g.isMember(PG_CLASS, s.oid) || identitySeqOids.has(s.oid)) continue;
    const q = qualifiedName(s.nspname, s.relname);
    const unlogged = s.relpersistence === 'u' ? 'UNLOGGED ' : '';
    const sql = `CREATE ${unlogged}SEQUENCE ${q}\n${s.seqtype !== 'bigint' ? `    AS ${s.seqtype}\n` : ''}${sequenceOptions(s, '    ')};\n`;
    const node = g.add({ section: 'pre-data', kind: 'SEQUENCE', schema: s.nspname, name: s.relname, sql }, catalogKey(PG_CLASS, s.oid));
    g.comment(node, `SEQUENCE ${q}`, PG_CLASS, s.oid);
    const ob = links.ownedBy.get(s.oid);
    const rel = ob && g.relByOid.get(ob.rel);
    const col = ob && colByKey.get(`${ob.rel}:${ob.attnum}`);
    if (rel && col && !g.isMember(PG_CLASS, rel.oid)) {
      const o = g.add({
        section: 'pre-data',
        kind: 'SEQUENCE OWNED BY',
        schema: s.nspname,
        name: s.relname,
        table: rel.relname,
        sql: `ALTER SEQUENCE ${q} OWNED BY ${qualifiedName(rel.nspname, rel.relname)}.${quoteIdent(col.attname)};\n`,
      });
      o.deps.add(node);
      o.pendingDeps = [catalogKey(PG_CLASS, rel.oid)];
    }
  }
}

/** START WITH ... CACHE ... [CYCLE], one per line, each line indented. */
export function sequenceOptions(s: Pick<SequenceRow, 'seqstart' | 'seqincrement' | 'seqmin' | 'seqmax' | 'seqcache' | 'seqcycle'>, indent: string): string {
  return [
    `START WITH ${s.seqstart}`,
    `INCREMENT BY ${s.seqincrement}`,
    `MINVALUE ${s.seqmin}`,
    `MAXVALUE ${s.seqmax}`,
    `CACHE ${s.seqcache}`,
    ...(s.seqcycle ? ['CYCLE'] : []),
  ]
    .map((l) => indent + l)
    .join('\n');
}
