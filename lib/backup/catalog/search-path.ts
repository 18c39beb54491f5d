import type pg from 'pg';
import type { DumpGraph } from './dump-graph';
import type { Catalog } from './read-catalog';
import { catalogKey, PG_ATTRDEF, PG_CLASS, PG_CONSTRAINT, PG_PROC, PG_REWRITE } from './kinds/kind-types';
import { dollarQuote, qualifiedName, quoteIdent, quoteLiteral } from './quote-ident';
import type { DumpNode } from './order-objects';

/**
 * The archive runs with search_path '' (as pg_dump's): every name it prints is qualified, so no
 * object of the target can stand in for the one meant. But a routine whose body is not SQL-standard
 * and that has no `SET search_path` of its own binds the names in its body only when it runs, through
 * the session's search_path. When a restore runs it — an index's expression built with the rows, a
 * CHECK validated after the data, a materialized view's REFRESH — it ran under '' and found nothing:
 * `CREATE INDEX … USING gist (public.ll_to_earth(lat, lon))` (earthdistance 1.1, PostgreSQL ≤ 16)
 * failed every restore with `type "earth" does not exist`, pg_dump's as well; so did any index on an
 * `immutable_unaccent(text)` wrapper and any REFRESH of a view calling a plpgsql function that names
 * its tables bare. The source ran them with the search_path its sessions start with.
 *
 * Those statements (only those: read-catalog.ts SEARCH_PATH_USERS_SQL finds them) now run in the
 * archive between `set_config('search_path', <the backing-up role's starting search_path>)` and the
 * return to '', so our restore, `--jobs`, a drill and `gunzip | psql` all build them as the source
 * did. PostgreSQL 17 runs CREATE INDEX and REFRESH with a search_path of its own (pg_catalog,
 * pg_temp) whatever the session's: there such a routine fails in the source database too.
 *
 * A validated CHECK calling such a routine is added after the data (it would otherwise run under ''
 * for every COPY row): the caller adds these constraints to its after-the-data set.
 */
export function searchPathChecks(g: DumpGraph): Set<number> {
  return new Set(g.cat.searchPath.trim() === '' ? [] : g.cat.searchPathUsers.filter((u) => u.classid === PG_CONSTRAINT).map((u) => u.oid));
}

/**
 * Puts the post-data statements that run such routines between the source's search_path and '':
 * the index, CHECK or materialized view that calls one, and — since planning any query on a table
 * inlines the SQL functions of its index expressions, parsing their bodies — every statement that
 * plans one on a table with such an index: the INDEX ATTACH of its partitions' indexes, the foreign
 * keys from and to it (validated by a query), the REFRESH of a materialized view reading it.
 */
export function runWithSourceSearchPath(g: DumpGraph): void {
  const path = g.cat.searchPath;
  if (path.trim() === '' || !g.cat.searchPathUsers.length) return;
  const users = new Set(g.cat.searchPathUsers.map((u) => catalogKey(u.classid, u.oid)));
  const indexes = g.cat.indexes.filter((ix) => users.has(catalogKey(PG_CLASS, ix.oid)));
  const tables = new Set(indexes.map((ix) => ix.indrelid));
  const targets = new Set<DumpNode>();
  const add = (n: DumpNode | undefined) => {
    if (n && n.obj.section === 'post-data') targets.add(n);
  };
  // The index, CHECK or constraint itself (an index made by a constraint is that constraint's node).
  for (const k of users) add(g.owner.get(k));
  const attachNames = new Set(indexes.map((ix) => `${ix.nspname}\u0000${ix.relname}`));
  const fkOnFlagged = new Set<number>();
  for (const d of g.cat.depends) if (d.classid === PG_CONSTRAINT && d.refclassid === PG_CLASS && tables.has(d.refobjid)) fkOnFlagged.add(d.objid);
  for (const con of g.cat.constraints) if (con.contype === 'f' && (tables.has(con.conrelid) || fkOnFlagged.has(con.oid))) add(g.nodeFor(PG_CONSTRAINT, con.oid));
  const flaggedViews = new Set([...users].map((k) => g.owner.get(k)));
  for (const m of readersOf(g, tables)) flaggedViews.add(g.nodeFor(PG_CLASS, m));
  for (const node of g.nodes) {
    if (node.obj.kind === 'INDEX ATTACH' && attachNames.has(`${node.obj.schema}\u0000${node.obj.name}`)) add(node);
    if (node.obj.kind === 'MATERIALIZED VIEW DATA' && node.matview && flaggedViews.has(node.matview)) add(node);
  }
  for (const node of targets) {
    node.obj.sql =
      `-- runs a routine that finds its objects through the search_path: with the source's, then back to ''\n` +
      `SELECT pg_catalog.set_config('search_path', ${quoteLiteral(path)}, false);\n` +
      node.obj.sql +
      `SELECT pg_catalog.set_config('search_path', '', false);\n`;
  }
}

/**
 * The relations (materialized views, views) whose query reads one of `tables` — directly or through
 * views — or that are one of them (a materialized view with such an index): their REFRESH plans a
 * query on such a table.
 */
function readersOf(g: DumpGraph, tables: Set<number>): Set<number> {
  const ruleOf = new Map(g.cat.rules.filter((r) => r.rulename === '_RETURN').map((r) => [r.oid, r.ev_class]));
  const reads = new Map<number, number[]>(); // view or matview -> relations its query reads
  for (const d of g.cat.depends) {
    const rel = d.classid === PG_REWRITE ? ruleOf.get(d.objid) : undefined;
    if (rel === undefined || d.refclassid !== PG_CLASS || d.refobjid === rel) continue;
    const xs = reads.get(rel);
    if (xs) xs.push(d.refobjid);
    else reads.set(rel, [d.refobjid]);
  }
  const out = new Set<number>(tables);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [rel, xs] of reads) {
      if (!out.has(rel) && xs.some((x) => out.has(x))) {
        out.add(rel);
        grew = true;
      }
    }
  }
  return out;
}

/**
 * A generated column or a partition key calling such a routine is not reached by any statement
 * around it: CREATE TABLE itself simplifies the expression — inlining its SQL functions, parsing
 * their bodies — under '', and every row the data load inserts runs it (plpgsql too), so the
 * restore failed at the table (pg_dump's too). For those routines, the archive gives the routine
 * itself the source's search_path for the length of the restore: right after its CREATE FUNCTION,
 * `ALTER FUNCTION … SET search_path FROM CURRENT` under the source's path (FROM CURRENT: the value
 * is never re-parsed from text), and as the archive's very last statement `ALTER FUNCTION … RESET
 * search_path`, which leaves the routine's settings as the source had them.
 *
 * The routines only indexes and materialized views run get the same on PostgreSQL 17 and later
 * only (a DO block asks the server): there CREATE INDEX and REFRESH run with a search_path of their
 * own (pg_catalog, pg_temp) whatever the session's, so a backup of 15 or 16 restored into 17 failed
 * at the index; a routine's own setting is the one thing that overrides it. Before 17 the session's
 * path (runWithSourceSearchPath) does it, and the routine stays inlinable for the index build.
 *
 * A routine the archive does not create (another schema's, an extension's) cannot be changed so:
 * searchPathWarnings says so by name where that fails. Returns the routines that always get it
 * (pg_proc oids) and adds the closing node, which depends on every post-data node: call it once
 * every node exists.
 */
export function setRoutinesSearchPath(g: DumpGraph): Set<number> {
  const creates = (oid: number) => g.owner.get(catalogKey(PG_PROC, oid))?.obj.kind === 'FUNCTION';
  const always = routinesGivenSearchPath(g.cat, creates, (relkind) => relkind === 'p', true);
  const from17 = routinesGivenSearchPath(g.cat, creates, (relkind) => relkind === 'i' || relkind === 'I' || relkind === 'm', false);
  for (const oid of always) from17.delete(oid);
  if (!always.size && !from17.size) return always;
  const path = g.cat.searchPath;
  const resets: string[] = [];
  for (const f of g.cat.functions.filter((x) => always.has(x.oid) || from17.has(x.oid))) {
    const node = g.owner.get(catalogKey(PG_PROC, f.oid))!;
    const sig = `${qualifiedName(f.nspname, f.proname)}(${f.idargs})`;
    const set = `ALTER FUNCTION ${sig} SET search_path FROM CURRENT;`;
    node.obj.sql +=
      (always.has(f.oid)
        ? `-- a generated column or partition key calls it: the source's search_path until the end of the restore\n`
        : `-- an index or materialized view calls it: on PostgreSQL 17 and later (which builds them under its own search_path), the source's until the end of the restore\n`) +
      `SELECT pg_catalog.set_config('search_path', ${quoteLiteral(path)}, false);\n` +
      (always.has(f.oid) ? `${set}\n` : `DO ${dollarQuote(`BEGIN IF pg_catalog.current_setting('server_version_num')::int >= 170000 THEN ${set} END IF; END`)};\n`) +
      `SELECT pg_catalog.set_config('search_path', '', false);\n`;
    resets.push(`ALTER FUNCTION ${sig} RESET search_path;\n`);
  }
  const post = g.nodes.filter((n) => n.obj.section === 'post-data');
  const n = resets.length;
  const last = g.add({ section: 'post-data', kind: 'FUNCTION SEARCH_PATH RESET', schema: null, name: `${n} routine${n === 1 ? '' : 's'} given the source's search_path for the restore`, sql: resets.join('') });
  last.priority = 100;
  for (const p of post) last.deps.add(p);
  return always;
}

/**
 * The search_path-bound routines reached from the schemas' generated columns (`generated`) or
 * relations of a relkind `relkinds` accepts, that `creates` says the archive creates (none without
 * a source path to give).
 */
function routinesGivenSearchPath(cat: Catalog, creates: (oid: number) => boolean, relkinds: (relkind: string) => boolean, generated: boolean): Set<number> {
  if (cat.searchPath.trim() === '') return new Set();
  const rels = new Map(cat.rels.map((r) => [r.oid, r.relkind]));
  const idx = new Set(cat.indexes.map((i) => i.oid));
  const kindOf = (oid: number) => rels.get(oid) ?? (idx.has(oid) ? 'i' : undefined);
  return new Set(
    cat.searchPathUsers
      .filter((u) => ((generated && u.classid === PG_ATTRDEF) || (u.classid === PG_CLASS && relkinds(kindOf(u.oid) ?? ''))) && creates(u.routine))
      .map((u) => u.routine),
  );
}

/**
 * What the archive cannot save: a generated column or a partition key calling such a routine that
 * the archive does not create (setRoutinesSearchPath) is simplified under '' by CREATE TABLE. Whether
 * that fails is tried here, not guessed (a body naming only pg_catalog's objects, or a plpgsql
 * routine, is not inlined into failure): each candidate expression is planned under the dump's
 * search_path '' inside a savepoint (`EXPLAIN SELECT <expression>` over a row of t's type), and each
 * one that fails is said in the backup's warnings, by name, with the error and the way out.
 */
export const SEARCH_PATH_WARNING = 'a restore of this backup fails: the ';

export async function searchPathWarnings(client: pg.ClientBase, cat: Catalog, given: Set<number>): Promise<string[]> {
  // The expressions reaching at least one routine the archive does not give a search_path.
  const open = new Set(cat.searchPathUsers.filter((u) => !given.has(u.routine)).map((u) => catalogKey(u.classid, u.oid)));
  const generated = new Set(cat.searchPathUsers.filter((u) => u.classid === PG_ATTRDEF && open.has(catalogKey(u.classid, u.oid))).map((u) => u.oid));
  const rels = new Map(cat.rels.map((r) => [r.oid, r]));
  const probes: { what: string; rel: string; expr: string }[] = [];
  for (const c of cat.columns) {
    const r = rels.get(c.attrelid);
    if (c.adoid === null || !generated.has(c.adoid) || !r || c.defexpr === null) continue;
    const rel = qualifiedName(r.nspname, r.relname);
    probes.push({ what: `generated column ${rel}.${quoteIdent(c.attname)}`, rel, expr: c.defexpr });
  }
  const keyed = [...new Set(cat.searchPathUsers.filter((u) => u.classid === PG_CLASS && rels.get(u.oid)?.relkind === 'p' && open.has(catalogKey(u.classid, u.oid))).map((u) => u.oid))];
  if (keyed.length) {
    const r = await client.query<{ oid: number; exprs: string }>(
      `SELECT pt.partrelid::int AS oid, pg_catalog.pg_get_expr(pt.partexprs, pt.partrelid) AS exprs
         FROM pg_catalog.pg_partitioned_table pt WHERE pt.partrelid = ANY($1::oid[]) AND pt.partexprs IS NOT NULL`,
      [keyed],
    );
    for (const k of r.rows) {
      const rel = rels.get(k.oid)!;
      const q = qualifiedName(rel.nspname, rel.relname);
      probes.push({ what: `partition key of ${q}`, rel: q, expr: k.exprs });
    }
  }
  const out: string[] = [];
  for (const p of probes) {
    await client.query('SAVEPOINT tickethub_search_path_probe');
    try {
      // Over a row of the table's type, not the table: planning a query on the table would inline
      // its index expressions too (those the archive does run under the source's search_path).
      await client.query(`EXPLAIN (COSTS OFF) SELECT ${p.expr} FROM (SELECT (NULL::${p.rel}).*) AS probe`);
      await client.query('RELEASE SAVEPOINT tickethub_search_path_probe');
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT tickethub_search_path_probe');
      await client.query('RELEASE SAVEPOINT tickethub_search_path_probe');
      out.push(
        `${SEARCH_PATH_WARNING}${p.what} calls a routine that finds its objects through the search_path (no SET search_path of its own, a body that is not SQL-standard); PostgreSQL inlines it under the restore's search_path '' when it creates the table (${oneLine((err as Error).message)}; pg_dump's restore fails the same way): give that routine a search_path (ALTER FUNCTION … SET search_path = …) or a SQL-standard body (BEGIN ATOMIC)`,
      );
    }
  }
  return out;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
