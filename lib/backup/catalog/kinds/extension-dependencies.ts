import type { DumpGraph } from '../dump-graph';
import { qualifiedName, quoteIdent } from '../quote-ident';
import { PG_CLASS, PG_EXTENSION, PG_PROC, PG_TRIGGER } from './kind-types';

/**
 * `ALTER FUNCTION / PROCEDURE / INDEX / MATERIALIZED VIEW / TRIGGER … DEPENDS ON EXTENSION e`
 * (pg_depend deptype 'x': dropping the extension drops the object too), as pg_dump writes it.
 * One entry per marked object and extension, after both: its own kind, so a restore mode that
 * does not recreate the object (data-only, --into-schema) does not run it either. Objects of other
 * catalogs cannot carry the mark (the statement exists for these five), and an aggregate refuses it.
 */
export function buildExtensionDependencies(g: DumpGraph): void {
  const functions = new Map(g.cat.functions.map((f) => [f.oid, f]));
  const indexes = new Map(g.cat.indexes.map((i) => [i.oid, i]));
  const triggers = new Map(g.cat.triggers.map((t) => [t.oid, t]));
  const extensions = new Map(g.cat.extensions.map((e) => [e.oid, e]));
  for (const d of g.cat.depends) {
    if (d.deptype !== 'x' || d.refclassid !== PG_EXTENSION) continue;
    const ext = extensions.get(d.refobjid);
    const own = g.nodeFor(d.classid, d.objid);
    if (!ext || !own) continue;
    let target: string | undefined;
    let table: string | undefined;
    if (d.classid === PG_PROC) {
      const f = functions.get(d.objid);
      if (f && (f.prokind === 'f' || f.prokind === 'p' || f.prokind === 'w')) target = `${f.prokind === 'p' ? 'PROCEDURE' : 'FUNCTION'} ${qualifiedName(f.nspname, f.proname)}(${f.idargs})`;
    } else if (d.classid === PG_CLASS) {
      const ix = indexes.get(d.objid);
      const rel = g.relByOid.get(d.objid);
      if (ix) {
        target = `INDEX ${qualifiedName(ix.nspname, ix.relname)}`;
        table = g.relByOid.get(ix.indrelid)?.relname;
      } else if (rel?.relkind === 'm') target = `MATERIALIZED VIEW ${qualifiedName(rel.nspname, rel.relname)}`;
    } else if (d.classid === PG_TRIGGER) {
      const t = triggers.get(d.objid);
      const rel = t && g.relByOid.get(t.tgrelid);
      const on = t?.outsideSchema != null && t.outsideName != null ? qualifiedName(t.outsideSchema, t.outsideName) : rel ? qualifiedName(rel.nspname, rel.relname) : undefined;
      if (t && on) {
        target = `TRIGGER ${quoteIdent(t.tgname)} ON ${on}`;
        table = rel?.relname ?? t.outsideName ?? undefined;
      }
    }
    if (!target) continue;
    const node = g.add({
      section: own.obj.section,
      kind: 'DEPENDS ON EXTENSION',
      schema: own.obj.schema,
      name: `${own.obj.name} ${ext.extname}`,
      ...(table !== undefined ? { table } : {}),
      sql: `ALTER ${target} DEPENDS ON EXTENSION ${quoteIdent(ext.extname)};\n`,
    });
    node.deps.add(own);
    const extNode = g.nodeFor(PG_EXTENSION, ext.oid);
    if (extNode) node.deps.add(extNode);
  }
}
