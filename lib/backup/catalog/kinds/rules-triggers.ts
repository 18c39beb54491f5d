import type { DumpGraph } from '../dump-graph';
import { qualifiedName, quoteIdent } from '../quote-ident';
import type { TriggerRow } from '../read-catalog';
import { catalogKey, PG_POLICY, PG_REWRITE, PG_TRIGGER } from './kind-types';
import { addRelationEntry, dumpedRelation, type RelationNodes } from './relations';

/** Rules (a view's _RETURN rule is the view itself) with their ENABLE/DISABLE state (as triggers: replica / always fire in another session_replication_role). */
export function buildRules(g: DumpGraph, rels: RelationNodes): void {
  for (const rw of g.cat.rules) {
    const rel = rw.rulename === '_RETURN' ? undefined : dumpedRelation(g, rels, rw.ev_class);
    if (!rel) continue;
    let sql = `${rw.def.trim().replace(/;?$/, ';')}\n`;
    const en = { D: 'DISABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' }[rw.ev_enabled];
    if (en) sql += `ALTER TABLE ${rel.q} ${en} RULE ${quoteIdent(rw.rulename)};\n`;
    const commentTarget = `RULE ${quoteIdent(rw.rulename)} ON ${rel.q}`;
    addRelationEntry(g, rel, { kind: 'RULE', schema: rel.r.nspname, name: rw.rulename, sql, classid: PG_REWRITE, oid: rw.oid, commentTarget });
  }
}

/**
 * Triggers, with their ENABLE/DISABLE state. A partition's clone of its parent's trigger is created
 * by the parent's; only a clone whose state differs gets an entry of its own (its ALTER, after the
 * parent's trigger), as pg_dump does.
 */
export function buildTriggers(g: DumpGraph, rels: RelationNodes): void {
  for (const tg of g.cat.triggers) {
    if (tg.outsideSchema !== null && tg.outsideName !== null) {
      buildOutsideTrigger(g, tg, tg.outsideSchema, tg.outsideName);
      continue;
    }
    const rel = dumpedRelation(g, rels, tg.tgrelid);
    if (!rel) continue;
    const clone = tg.tgparentid !== 0;
    const en = { D: 'DISABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA', ...(clone ? { O: 'ENABLE' } : {}) }[tg.tgenabled];
    let sql = clone ? '' : `${tg.def};\n`;
    if (en) sql += `ALTER TABLE ${rel.q} ${en} TRIGGER ${quoteIdent(tg.tgname)};\n`;
    const commentTarget = `TRIGGER ${quoteIdent(tg.tgname)} ON ${rel.q}`;
    const node = addRelationEntry(g, rel, { kind: 'TRIGGER', schema: rel.r.nspname, name: tg.tgname, sql, classid: PG_TRIGGER, oid: tg.oid, commentTarget });
    if (clone) node.pendingDeps = [...(node.pendingDeps ?? []), catalogKey(PG_TRIGGER, tg.tgparentid)];
  }
}

/**
 * A trigger on a table outside the schemas (auth.users) calling a dumped function. The table is the
 * target's own (an external dependency the restore checks for): CREATE OR REPLACE, so a target that
 * already has the trigger (the live project, a replace) gets the backup's definition instead of an
 * "already exists" failure. A constraint trigger has no OR REPLACE: created as it is.
 */
function buildOutsideTrigger(g: DumpGraph, tg: TriggerRow, schema: string, name: string): void {
  const table = qualifiedName(schema, name);
  let sql = `${tg.isConstraint ? tg.def : tg.def.replace(/^CREATE TRIGGER /, 'CREATE OR REPLACE TRIGGER ')};\n`;
  const en = { D: 'DISABLE', A: 'ENABLE ALWAYS', R: 'ENABLE REPLICA' }[tg.tgenabled];
  if (en) sql += `ALTER TABLE ${table} ${en} TRIGGER ${quoteIdent(tg.tgname)};\n`;
  const node = g.add({ section: 'post-data', kind: 'TRIGGER', schema, name: tg.tgname, table: name, sql }, catalogKey(PG_TRIGGER, tg.oid));
  g.comment(node, `TRIGGER ${quoteIdent(tg.tgname)} ON ${table}`, PG_TRIGGER, tg.oid);
}

/** Row-level security (ENABLE / FORCE) and policies. */
export function buildRowSecurity(g: DumpGraph, rels: RelationNodes): void {
  for (const r of g.cat.rels) {
    const rel = r.relrowsecurity || r.relforcerowsecurity ? dumpedRelation(g, rels, r.oid) : undefined;
    if (!rel) continue;
    let sql = '';
    if (r.relrowsecurity) sql += `ALTER TABLE ${rel.q} ENABLE ROW LEVEL SECURITY;\n`;
    if (r.relforcerowsecurity) sql += `ALTER TABLE ONLY ${rel.q} FORCE ROW LEVEL SECURITY;\n`;
    g.add({ section: 'post-data', kind: 'ROW SECURITY', schema: r.nspname, name: r.relname, table: r.relname, sql }).deps.add(rel.node);
  }
  for (const p of g.cat.policies) {
    const rel = dumpedRelation(g, rels, p.polrelid);
    if (!rel) continue;
    const cmd = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' }[p.polcmd] ?? 'ALL';
    let sql = `CREATE POLICY ${quoteIdent(p.polname)} ON ${rel.q}${p.polpermissive ? '' : ' AS RESTRICTIVE'} FOR ${cmd}`;
    sql += ` TO ${p.roles ? p.roles.join(', ') : 'PUBLIC'}`;
    if (p.qual !== null) sql += ` USING (${p.qual})`;
    if (p.withcheck !== null) sql += ` WITH CHECK (${p.withcheck})`;
    const commentTarget = `POLICY ${quoteIdent(p.polname)} ON ${rel.q}`;
    addRelationEntry(g, rel, { kind: 'POLICY', schema: rel.r.nspname, name: p.polname, sql: `${sql};\n`, classid: PG_POLICY, oid: p.oid, commentTarget });
  }
}
