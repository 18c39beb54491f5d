import type { DumpGraph } from '../dump-graph';
import { qualifiedName, quoteLiteral } from '../quote-ident';
import type { AggregateRow } from '../read-catalog';
import { catalogKey, PG_PROC } from './kind-types';

/** Functions, procedures (the server's pg_get_functiondef) and aggregates. */
export function buildRoutines(g: DumpGraph): void {
  const aggs = new Map(g.cat.aggregates.map((a) => [a.aggfnoid, a]));
  for (const f of g.cat.functions) {
    if (g.isMember(PG_PROC, f.oid)) continue;
    const sig = `${qualifiedName(f.nspname, f.proname)}(${f.idargs})`;
    let kind: string;
    let sql: string;
    if (f.prokind === 'a') {
      const a = aggs.get(f.oid);
      if (!a) continue;
      kind = 'AGGREGATE';
      sql = aggregateSql(f.nspname, f.proname, a);
    } else {
      kind = f.prokind === 'p' ? 'PROCEDURE' : 'FUNCTION';
      sql = `${f.def!.trimEnd()};\n`;
    }
    const node = g.add({ section: 'pre-data', kind, schema: f.nspname, name: `${f.proname}(${f.idargs})`, sql }, catalogKey(PG_PROC, f.oid));
    g.comment(node, `${kind} ${sig}`, PG_PROC, f.oid);
  }
}

function aggregateSql(nspname: string, proname: string, a: AggregateRow): string {
  const p: string[] = [`SFUNC = ${a.transfn}`, `STYPE = ${a.transtype}`];
  if (a.transspace) p.push(`SSPACE = ${a.transspace}`);
  if (a.finalfn) p.push(`FINALFUNC = ${a.finalfn}`);
  if (a.finalextra) p.push('FINALFUNC_EXTRA');
  if (a.finalfn && a.finalmodify !== (a.aggkind === 'n' ? 'r' : 'w')) p.push(`FINALFUNC_MODIFY = ${{ r: 'READ_ONLY', s: 'SHAREABLE', w: 'READ_WRITE' }[a.finalmodify]}`);
  if (a.initval !== null) p.push(`INITCOND = ${quoteLiteral(a.initval)}`);
  if (a.combinefn) p.push(`COMBINEFUNC = ${a.combinefn}`);
  if (a.serialfn) p.push(`SERIALFUNC = ${a.serialfn}`);
  if (a.deserialfn) p.push(`DESERIALFUNC = ${a.deserialfn}`);
  if (a.mtransfn) {
    p.push(`MSFUNC = ${a.mtransfn}`, `MINVFUNC = ${a.minvtransfn}`, `MSTYPE = ${a.mtranstype}`);
    if (a.mtransspace) p.push(`MSSPACE = ${a.mtransspace}`);
    if (a.mfinalfn) p.push(`MFINALFUNC = ${a.mfinalfn}`);
    if (a.mfinalextra) p.push('MFINALFUNC_EXTRA');
    if (a.minitval !== null) p.push(`MINITCOND = ${quoteLiteral(a.minitval)}`);
  }
  if (a.sortop) p.push(`SORTOP = ${a.sortop}`);
  if (a.aggkind === 'h') p.push('HYPOTHETICAL');
  if (a.parallel !== 'u') p.push(`PARALLEL = ${{ s: 'SAFE', r: 'RESTRICTED' }[a.parallel]}`);
  return `CREATE AGGREGATE ${qualifiedName(nspname, proname)}(${a.args}) (\n    ${p.join(',\n    ')}\n);\n`;
}
