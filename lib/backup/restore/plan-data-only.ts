import type pg from 'pg';
import { AppError } from '../../errors';
import { qualifiedName as qrel, quoteIdent, quoteLiteral } from '../catalog/quote-ident';
import type { ManifestTable } from '../manifest';
import { checkLocksFit, inheritanceTreeSize, locksToReload } from '../lock-budget';
import { setvalStatements } from '../member-check';
import { loadPlan, tableOfEntry, tablesByKey, tkey } from './plan-base';
import { partitionsOf, selectTables } from './preflight';
import type { LoadPlan, MemberAction, PlanContext } from './restore-types';
import type { IncomingForeignKey } from './target-catalog';
import { targetSearchPath } from './target-search-path';
import { enabledUserTriggers, incomingForeignKeys, liftForcedRowSecurity, notValidConstraints, orphanCount, ownedSequences, setAsideLine, tableOid, touchingForeignKeys } from './target-catalog';

/**
 * Data-only: the chosen tables (which must exist in the target) are emptied and reloaded, their
 * sequences reset; with `cascade`, tables whose rows reference them are reloaded too (transitively).
 * Foreign keys touching them are dropped during the load and re-added (validated) after; a row left
 * without its parent is refused by name. Their enabled triggers are off during the load. A reload
 * whose locks cannot fit the target's lock table is refused before anything changes (lock-budget.ts).
 * FORCE ROW LEVEL SECURITY on a table the restoring role owns is lifted during the load.
 */
export async function planDataOnly(ctx: PlanContext): Promise<LoadPlan> {
  const { client, manifest: m, target } = ctx;
  const chosen = selectTables(m, ctx.opts.tables ?? []);
  for (const t of chosen) if (t.dataExcluded) throw new AppError('usage', `backup ${m.id} holds no rows of ${t.schema}.${t.name} (its data was excluded)`);
  const oids = new Map<string, number>();
  for (const t of chosen) {
    const oid = await tableOid(client, t.schema, t.name);
    if (oid === null) throw new AppError('not_found', `table ${t.schema}.${t.name} does not exist in the target ${target} (data-only reloads existing tables; use --into-schema or --mode replace)`);
    oids.set(tkey(t.schema, t.name), oid);
  }
  const { incoming, cascaded } = await growByCascade(ctx, chosen, oids);
  const notValid = await notValidConstraints(client, [...oids.values()]);
  // All of it is ONE transaction: refuse now, not after emptying the 3,000th table. A NOT VALID
  // CHECK set aside on an ancestor locks that ancestor's every descendant (its DROP and ADD recurse).
  const ancestors = notValid.filter((k) => k.relid !== 0 && ![...oids.values()].includes(k.relid)).map((k) => k.relid);
  await checkLocksFit(client, (await locksToReload(client, [...oids.values()])) + (await inheritanceTreeSize(client, ancestors)), {
    what: 'the tables, their indexes and TOAST relations, the foreign keys touching them and their triggers',
    // (One table's foreign keys alone may be the bulk: then fewer tables is no way out.)
    orElse: chosen.length > 1 ? `, or reload fewer tables per restore${ctx.opts.cascade ? ' (--cascade adds every table that references them)' : ''}` : '',
  });
  const lines = [`empty ${chosen.map((t) => `${t.schema}.${t.name}`).join(', ')} (TRUNCATE) and reload their rows; reset their sequences`, ...cascaded];
  for (const fk of incoming) lines.push(`check ${fk.schema}.${fk.table} (${fk.name}) still finds every row it references; refuse otherwise`);
  for (const k of notValid) lines.push(setAsideLine(k));
  // Large objects are data too, but not a table's rows: said, so their absence is never silent.
  // Routines of its indexes, CHECKs, generated columns, partition keys (target-search-path.ts).
  const sp = await targetSearchPath(client, m.source.schemas);
  lines.push(...sp.lines);
  const los = m.largeObjects?.length ?? 0;
  if (los) lines.push(`leave the ${los} large object${los === 1 ? '' : 's'} alone (data-only reloads table rows; a fresh or replace restore brings them back)`);

  const loadSet = new Set(chosen.map((t) => tkey(t.schema, t.name)));
  const byKey = tablesByKey(m);
  const ownedSeqOids = new Set<number>();
  const actions = m.entries.map((e): MemberAction => {
    if (e.section === 'header') return { kind: 'exec' };
    if (e.section === 'table-data') {
      const t = tableOfEntry(byKey, e);
      return t && loadSet.has(tkey(t.schema, t.name)) ? { kind: 'copy', table: t } : { kind: 'skip' };
    }
    if (e.section === 'sequence-set') return { kind: 'exec', filter: (c, sql) => keepOwnedSetvals(c, sql, ownedSeqOids) };
    return { kind: 'skip' };
  });
  const fkToReadd: IncomingForeignKey[] = [];
  const triggersToEnable: { rel: string; name: string; enable: string }[] = [];
  const forcedAgain: string[] = [];
  const notValidToReadd: string[] = [];
  return loadPlan(ctx, chosen, actions, lines, {
    async prepare(c) {
      const allOids = chosen.map((t) => oids.get(tkey(t.schema, t.name))!);
      const rels = chosen.map((t) => qrel(t.schema, t.name)).join(', ');
      await c.query(`LOCK TABLE ${rels} IN ACCESS EXCLUSIVE MODE`);
      const touching = await touchingForeignKeys(c, allOids);
      // Row-level security that applies to this role: the archive's row_security = off makes the
      // COPY into such a table (and the orphan checks' reads of its foreign keys' tables) fail.
      // FORCE on a table this role owns is lifted for the reload and put back before COMMIT; a table
      // of another owner cannot be reloaded by this role: said before anything changes.
      forcedAgain.push(...(await liftForcedRowSecurity(c, [...chosen, ...touching.flatMap((fk) => [{ schema: fk.schema, name: fk.table }, { schema: fk.refSchema, name: fk.refTable }])])));
      // Every FK touching the reloaded tables goes while they reload (rows arrive table by table,
      // in archive order) and comes back after, validated; re-read now that the tables are locked.
      for (const fk of touching) {
        await c.query(`ALTER TABLE ${qrel(fk.schema, fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
        fkToReadd.push(fk);
      }
      for (const k of await notValidConstraints(c, allOids)) {
        await c.query(k.drop);
        notValidToReadd.push(k.add);
      }
      for (const trg of await enabledUserTriggers(c, allOids)) {
        await c.query(`ALTER TABLE ${trg.rel} DISABLE TRIGGER ${quoteIdent(trg.name)}`);
        triggersToEnable.push(trg);
      }
      for (const o of await ownedSequences(c, allOids)) ownedSeqOids.add(o);
      // (Before the TRUNCATE: it rebuilds the tables' indexes, running their expressions.)
      await sp.give(c);
      // ONLY: inheritance children are tables of their own (reloaded only when chosen); without it
      // TRUNCATE would empty them too and their rows would be lost. Before every name: ONLY binds
      // to one table (`TRUNCATE ONLY a, b` empties b's children).
      await c.query(`TRUNCATE ${chosen.map((t) => `ONLY ${qrel(t.schema, t.name)}`).join(', ')}`);
    },
    async finish(c) {
      const orphans: string[] = [];
      for (const fk of fkToReadd.filter((f) => f.incoming)) {
        const n = await orphanCount(c, fk);
        if (n > 0) orphans.push(`${n} row(s) of ${fk.schema}.${fk.table} (constraint ${fk.name}) reference rows of ${fk.refSchema}.${fk.refTable} that the backup does not have`);
      }
      if (orphans.length) throw new AppError('conflict', `${orphans.join('; ')}; pass --cascade to reload the referencing tables too`);
      for (const fk of fkToReadd) {
        await c.query(`ALTER TABLE ${qrel(fk.schema, fk.table)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`);
        // Its comment went with the DROP (lost before: the reload left every such key uncommented).
        if (fk.comment !== null) await c.query(`COMMENT ON CONSTRAINT ${quoteIdent(fk.name)} ON ${qrel(fk.schema, fk.table)} IS ${quoteLiteral(fk.comment)}`);
      }
      for (const add of notValidToReadd) await c.query(add);
      for (const trg of triggersToEnable) await c.query(`ALTER TABLE ${trg.rel} ${trg.enable} TRIGGER ${quoteIdent(trg.name)}`);
      for (const rel of forcedAgain) await c.query(`ALTER TABLE ${rel} FORCE ROW LEVEL SECURITY`);
      await sp.takeBack(c);
    },
  });
}

/** With --cascade, adds (to `chosen`, in place) the tables referencing the chosen ones, transitively. */
async function growByCascade(ctx: PlanContext, chosen: ManifestTable[], oids: Map<string, number>): Promise<{ incoming: IncomingForeignKey[]; cascaded: string[] }> {
  const { client, manifest: m } = ctx;
  const loadSet = new Set(chosen.map((t) => tkey(t.schema, t.name)));
  const cascaded: string[] = [];
  for (;;) {
    const incoming = await incomingForeignKeys(client, [...oids.values()]);
    if (!ctx.opts.cascade || incoming.length === 0) return { incoming, cascaded };
    let grew = false;
    for (const fk of incoming) {
      // A partitioned referencing table holds its rows in its partitions: those are reloaded.
      const own = m.tables.filter((t) => t.schema === fk.schema && t.name === fk.table);
      const leaves = own.length ? own : partitionsOf(m, qrel(fk.schema, fk.table));
      if (!leaves.length || leaves.some((t) => t.dataExcluded)) throw new AppError('conflict', `--cascade: ${fk.schema}.${fk.table} references ${fk.refSchema}.${fk.refTable} (${fk.name}) but backup ${m.id} holds no rows of it`);
      for (const mt of leaves) {
        const k = tkey(mt.schema, mt.name);
        if (loadSet.has(k)) continue;
        loadSet.add(k);
        chosen.push(mt);
        oids.set(k, (await tableOid(client, mt.schema, mt.name))!);
        cascaded.push(`also reload ${mt.schema}.${mt.name}: ${mt.name === fk.table ? 'it references' : `a partition of ${fk.schema}.${fk.table}, which references`} ${fk.refSchema}.${fk.refTable} (${fk.name}) (--cascade)`);
        grew = true;
      }
    }
    if (!grew) return { incoming, cascaded };
  }
}

/** The sequence-set member (checked: only setval calls) reduced to the sequences the reloaded tables own. */
async function keepOwnedSetvals(client: pg.ClientBase, sql: string, owned: Set<number>): Promise<string> {
  const keep: string[] = [];
  for (const { statement, sequence } of setvalStatements(sql)) {
    const r = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [sequence]);
    if (r.rows[0].oid !== null && owned.has(Number(r.rows[0].oid))) keep.push(statement);
  }
  return keep.join('');
}
