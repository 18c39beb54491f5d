import { AppError } from '../../errors';
import { checkLocksFit, locksIntoSchema } from '../lock-budget';
import { quoteIdent, quoteIdentAlways } from '../catalog/quote-ident';
import type { ManifestEntry } from '../manifest';
import { loadPlan, tableOfEntry, tablesByKey, tkey } from './plan-base';
import { selectTables } from './preflight';
import type { LoadPlan, MemberAction, PlanContext } from './restore-types';
import { notValidConstraints, schemaExists, setAsideLine, tableOid } from './target-catalog';
import { targetSearchPath } from './target-search-path';

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches an identifier as the archive may spell it: always quoted, or bare when it needs no quotes. */
function identPattern(name: string): string {
  const quoted = reEscape(quoteIdentAlways(name));
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? `(?:${quoted}|${reEscape(name)})` : quoted;
}

/** Rewrites a table's DDL from the archive into another schema (the table and its identity sequences). */
export function rewriteInto(sql: string, t: { schema: string; name: string }, into: string): string {
  const table = new RegExp(`(?<![\\w"$])${identPattern(t.schema)}\\.${identPattern(t.name)}(?![\\w"$])`, 'g');
  const seq = new RegExp(`SEQUENCE NAME ${identPattern(t.schema)}\\.`, 'g');
  return sql.replace(table, `${quoteIdentAlways(into)}.${quoteIdentAlways(t.name)}`).replace(seq, `SEQUENCE NAME ${quoteIdentAlways(into)}.`);
}

/** Member kinds of a chosen table that --into-schema recreates (no foreign keys, triggers, policies). */
const OWN_KINDS = new Set(['TABLE', 'CONSTRAINT', 'CHECK CONSTRAINT', 'INDEX']);

/**
 * Into-schema: the chosen tables are created in a NEW schema next to the live data (definitions,
 * keys and indexes rewritten into it, no foreign keys or triggers) and loaded there.
 */
export async function planIntoSchema(ctx: PlanContext): Promise<LoadPlan> {
  const { client, manifest: m, target } = ctx;
  const into = ctx.opts.intoSchema!;
  const chosen = selectTables(m, ctx.opts.tables ?? []);
  for (const t of chosen) if (t.dataExcluded) throw new AppError('usage', `backup ${m.id} holds no rows of ${t.schema}.${t.name} (its data was excluded)`);
  if (await schemaExists(client, into)) throw new AppError('conflict', `schema ${into} already exists in the target ${target}: --into-schema needs a new schema name`);
  const lines = [`create schema ${into} with ${chosen.map((t) => t.name).join(', ')} (definitions without foreign keys, triggers or inheritance parents, and rows)`];
  const loadSet = new Set(chosen.map((t) => tkey(t.schema, t.name)));
  const byKey = tablesByKey(m);
  const ownerOf = (e: ManifestEntry) => (e.kind === 'TABLE' ? tkey(e.schema, e.name) : e.table !== undefined ? tkey(e.schema, e.table) : null);
  const actions = m.entries.map((e): MemberAction => {
    if (e.section === 'header') return { kind: 'exec' };
    if (e.section === 'table-data') {
      const t = tableOfEntry(byKey, e);
      return t && loadSet.has(tkey(t.schema, t.name)) ? { kind: 'copy', table: t, into: { schema: into, name: t.name } } : { kind: 'skip' };
    }
    const owner = ownerOf(e);
    if (!owner || !loadSet.has(owner) || !OWN_KINDS.has(e.kind)) return { kind: 'skip' };
    const t = byKey.get(owner)!;
    // A CHECK or index may pass the whole row to a function taking the live table's row type,
    // which the copy does not have: such a one is left off the copy, said in a warning.
    const optional = e.kind === 'CHECK CONSTRAINT' || e.kind === 'INDEX'
      ? (msg: string) => `${e.kind === 'INDEX' ? 'index' : 'CHECK constraint'} ${quoteIdent(e.name)} of ${quoteIdent(t.schema)}.${quoteIdent(t.name)} not created on its copy ${quoteIdent(into)}.${quoteIdent(t.name)}: ${msg} (the copy has its own row type); its rows are the backup's`
      : undefined;
    return { kind: 'exec', rewrite: (sql) => rewriteInto(sql, t, into), optional };
  });
  // The copies' columns use the live tables' domains: a NOT VALID domain constraint that the
  // backed-up rows break is set aside while they load, and added back NOT VALID (as data-only does).
  const liveOids: number[] = [];
  for (const t of chosen) {
    const oid = await tableOid(client, t.schema, t.name);
    if (oid !== null) liveOids.push(oid);
  }
  const domainChecks = (await notValidConstraints(client, liveOids)).filter((k) => k.domain);
  for (const k of domainChecks) lines.push(setAsideLine(k));
  // The copies call the live database's routines (generated columns, CHECKs, indexes): those
  // finding their objects through the search_path run with the target's (target-search-path.ts).
  const sp = await targetSearchPath(client, m.source.schemas);
  lines.push(...sp.lines);
  // All of it is ONE transaction: refuse now, not after creating the 3,000th table.
  await checkLocksFit(client, locksIntoSchema(m.entries, (e) => actions[e.index].kind === 'exec'), {
    what: 'the new schema, the tables it creates with their keys, indexes and TOAST relations',
    orElse: chosen.length > 1 ? ', or copy fewer tables per restore' : '',
  });
  const readd: string[] = [];
  return loadPlan(ctx, chosen, actions, lines, {
    async prepare(c) {
      await c.query(`CREATE SCHEMA ${quoteIdent(into)}`);
      await sp.give(c);
      for (const k of await notValidConstraints(c, liveOids)) {
        if (!k.domain) continue;
        await c.query(k.drop);
        readd.push(k.add);
      }
    },
    // An inheritance child's copy keeps its definition's INHERITS (the live parent): the live
    // parent's queries would return the copy's rows too. Stand-alone instead, as a partition's copy
    // is never attached: NO INHERIT keeps its inherited columns and CHECKs as its own.
    async finish(c) {
      const r = await c.query<{ child: string; parent: string }>(
        `SELECT i.inhrelid::pg_catalog.regclass::text AS child, i.inhparent::pg_catalog.regclass::text AS parent
           FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
          WHERE c.relnamespace = $1::text::pg_catalog.regnamespace ORDER BY i.inhrelid, i.inhseqno`,
        [quoteIdent(into)],
      );
      for (const x of r.rows) await c.query(`ALTER TABLE ONLY ${x.child} NO INHERIT ${x.parent}`);
      for (const add of readd) await c.query(add);
      await sp.takeBack(c);
    },
    locate: (t) => ({ schema: into, name: t.name }),
  });
}
