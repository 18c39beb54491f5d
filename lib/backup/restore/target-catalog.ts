import type pg from 'pg';
import { qualifiedName as qrel, quoteIdent as q } from '../catalog/quote-ident';
import { AppError } from '../../errors';

/**
 * Catalog questions a restore asks the target database before and while it changes anything. All
 * SQL of the restore's pre-checks lives here.
 */

const NOT_EXTENSION = (classid: string, objid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${objid} AND d.deptype = 'e')`;

/**
 * User objects that make a database "not empty" for a fresh restore: a relation, function or type
 * in the backed-up schemas, or a schema the backup would create that already exists. Other schemas
 * do not count (a new Supabase project's auth, storage, extensions ... are no conflict; issue 8) (extension members excluded: CREATE EXTENSION IF NOT EXISTS is
 * idempotent). Returns descriptions like `table public.trips`, at most `limit`, plus the total.
 */
export async function freshConflicts(client: pg.ClientBase, schemas: string[], createdSchemas: string[], limit = 5): Promise<{ total: number; sample: string[] }> {
  const r = await client.query<{ what: string }>(
    `SELECT what FROM (
       SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                             WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'relation' END
              || ' ' || n.nspname || '.' || c.relname AS what, 1 AS o
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${NOT_EXTENSION('pg_class', 'c.oid')}
       UNION ALL
       SELECT 'schema ' || n.nspname, 0 FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($2::text[])
       UNION ALL
       SELECT 'function ' || n.nspname || '.' || p.proname, 2
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY($1::text[]) AND ${NOT_EXTENSION('pg_proc', 'p.oid')}
       UNION ALL
       SELECT 'type ' || n.nspname || '.' || t.typname, 3
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = ANY($1::text[]) AND t.typtype IN ('e', 'd', 'r') AND ${NOT_EXTENSION('pg_type', 't.oid')}
     ) x ORDER BY o, what`,
    [schemas, createdSchemas],
  );
  return { total: r.rowCount ?? r.rows.length, sample: r.rows.slice(0, limit).map((x) => x.what) };
}

/**
 * Objects OUTSIDE the given schemas that depend on objects inside them (a view in `reporting` over
 * `public.trips`, a foreign key from another schema, a column of a type from `public`): replacing
 * the schemas would drop them with CASCADE, so replace refuses unless told otherwise.
 */
export async function outsideDependents(client: pg.ClientBase, schemas: string[], recreatedTriggers: { schema: string; table: string; name: string }[] = []): Promise<string[]> {
  // Rules (views), column defaults, triggers and policies have no schema of their own: theirs is
  // their table's.
  const r = await client.query<{ dependent: string; referenced: string }>(
    `SELECT DISTINCT COALESCE((SELECT pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, w.ev_class, 0) FROM pg_catalog.pg_rewrite w
                                WHERE x.classid = 'pg_catalog.pg_rewrite'::regclass AND w.oid = x.objid AND w.rulename = '_RETURN'), -- a view, not its rule
                              pg_catalog.pg_describe_object(x.classid, x.objid, 0)) AS dependent,
            pg_catalog.pg_describe_object(x.refclassid, x.refobjid, 0) AS referenced
       FROM (
         SELECT d.*, on_.nspname AS onsp
           FROM pg_catalog.pg_depend d
           -- Both schemas by oid (pg_identify_object on every pg_depend row cost ~0.7 s on 5,000
           -- tables, and it quotes schema names): the dependent's own, or its table's for rules
           -- (views), column defaults, triggers and policies; by quoted name for other kinds.
           JOIN pg_catalog.pg_namespace on_ ON on_.oid = CASE d.classid
                  WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = d.objid)
                  WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = d.objid)
                  WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid = d.objid)
                  WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT k.connamespace FROM pg_catalog.pg_constraint k WHERE k.oid = d.objid)
                  WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_class c ON c.oid = w.ev_class WHERE w.oid = d.objid)
                  WHEN 'pg_catalog.pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_attrdef a JOIN pg_catalog.pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
                  WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
                  WHEN 'pg_catalog.pg_policy'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_policy y JOIN pg_catalog.pg_class c ON c.oid = y.polrelid WHERE y.oid = d.objid)
                  ELSE (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE pg_catalog.quote_ident(n.nspname) = (pg_catalog.pg_identify_object(d.classid, d.objid, 0)).schema)
                END
          WHERE d.deptype = 'n' AND d.classid <> 'pg_catalog.pg_namespace'::regclass AND d.refclassid <> 'pg_catalog.pg_namespace'::regclass
            AND CASE d.refclassid
                  WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = d.refobjid)
                  WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = d.refobjid)
                  WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid = d.refobjid)
                  ELSE (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE pg_catalog.quote_ident(n.nspname) = (pg_catalog.pg_identify_object(d.refclassid, d.refobjid, 0)).schema)
                END IN (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1::text[]))
       ) x
      WHERE NOT (x.onsp = ANY($1::text[])) AND x.onsp NOT IN ('pg_catalog', 'information_schema') AND x.onsp NOT LIKE 'pg\\_%'
        -- a trigger on a table outside (auth.users) that the backup itself recreates: dropped with
        -- the function it calls, and back from the backup (CREATE OR REPLACE TRIGGER)
        AND NOT (x.classid = 'pg_catalog.pg_trigger'::regclass AND EXISTS (
              SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                JOIN pg_catalog.json_to_recordset($2::json) AS k(schema text, "table" text, name text)
                  ON k.schema = x.onsp AND k."table" = c.relname AND k.name = t.tgname
               WHERE t.oid = x.objid))
      ORDER BY 1 LIMIT 20`,
    [schemas, JSON.stringify(recreatedTriggers)],
  );
  return r.rows.map((x) => `${x.dependent} (depends on ${x.referenced})`);
}

/**
 * DROP statements that empty a schema which itself stays (public: the archive does not create it):
 * every relation, routine and user type that is not an extension member. CASCADE + IF EXISTS, so
 * order does not matter (outside dependents were refused before).
 */
export async function dropSchemaContents(client: pg.ClientBase, schema: string): Promise<string[]> {
  const rels = await client.query<{ kind: string; name: string }>(
    `SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                           WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END AS kind,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND NOT c.relispartition
        AND ${NOT_EXTENSION('pg_class', 'c.oid')}
      ORDER BY CASE c.relkind WHEN 'v' THEN 0 WHEN 'm' THEN 1 WHEN 'f' THEN 2 WHEN 'r' THEN 3 WHEN 'p' THEN 3 WHEN 'S' THEN 4 ELSE 5 END, c.relname`,
    [schema],
  );
  const procs = await client.query<{ sig: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS sig
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND ${NOT_EXTENSION('pg_proc', 'p.oid')} ORDER BY 1`,
    [schema],
  );
  const types = await client.query<{ kind: string; name: string }>(
    `SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS name
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r') AND ${NOT_EXTENSION('pg_type', 't.oid')} ORDER BY 2`,
    [schema],
  );
  const colls = await client.query<{ name: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname) AS name
       FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
      WHERE n.nspname = $1 AND ${NOT_EXTENSION('pg_collation', 'c.oid')}`,
    [schema],
  );
  return [
    ...rels.rows.map((x) => `DROP ${x.kind} IF EXISTS ${x.name} CASCADE`),
    ...procs.rows.map((x) => `DROP ROUTINE IF EXISTS ${x.sig} CASCADE`),
    ...types.rows.map((x) => `DROP ${x.kind} IF EXISTS ${x.name} CASCADE`),
    ...colls.rows.map((x) => `DROP COLLATION IF EXISTS ${x.name} CASCADE`),
  ];
}

export async function schemaExists(client: pg.ClientBase, schema: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
  return (r.rowCount ?? 0) > 0;
}

/** OID of a table, or null when it does not exist. */
export async function tableOid(client: pg.ClientBase, schema: string, name: string): Promise<number | null> {
  const r = await client.query<{ oid: number | null }>(`SELECT to_regclass($1)::oid AS oid`, [qrel(schema, name)]);
  return r.rows[0].oid ?? null;
}

/** A foreign key from a table outside the restored set into one inside it. */
export interface IncomingForeignKey {
  name: string;
  schema: string;
  table: string;
  refSchema: string;
  refTable: string;
  /** pg_get_constraintdef: re-adding it restores the constraint exactly. */
  definition: string;
  columns: string[];
  refColumns: string[];
  /** True when the referencing table is outside the given set (its rows may lose their parent). */
  incoming: boolean;
  /** Its comment (put back when a data-only reload re-adds it), or null. */
  comment: string | null;
}

/** Foreign keys from tables outside `oids` into tables of `oids`. */
export async function incomingForeignKeys(client: pg.ClientBase, oids: number[]): Promise<IncomingForeignKey[]> {
  return (await touchingForeignKeys(client, oids)).filter((f) => f.incoming);
}

/**
 * Every foreign key whose referencing or referenced table is one of `oids`, as the constraint to
 * drop and re-add: a key that involves a partitioned table has a row of its own for each partition
 * (conparentid set; a partition of the referenced side is confrelid there), which cannot be dropped
 * alone and which TRUNCATE of that partition trips over: its top-level constraint is returned. It is
 * incoming unless one of `oids` is its referencing side at some level.
 */
export async function touchingForeignKeys(client: pg.ClientBase, oids: number[]): Promise<IncomingForeignKey[]> {
  const r = await client.query(
    `WITH RECURSIVE hit AS (
       SELECT k.oid, k.conparentid, k.conrelid = ANY($1::oid[]) AS own FROM pg_catalog.pg_constraint k
        WHERE k.contype = 'f' AND (k.confrelid = ANY($1::oid[]) OR k.conrelid = ANY($1::oid[]))),
     up AS (
       SELECT oid, conparentid, own FROM hit
       UNION ALL
       SELECT p.oid, p.conparentid, up.own FROM pg_catalog.pg_constraint p JOIN up ON p.oid = up.conparentid),
     roots AS (SELECT oid, bool_or(own) AS own FROM up WHERE conparentid = 0 GROUP BY oid)
     SELECT con.conname AS name, cn.nspname AS schema, cc.relname AS "table", pn.nspname AS "refSchema", pc.relname AS "refTable",
            pg_catalog.pg_get_constraintdef(con.oid) AS definition,
            ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o)::text[] AS columns,
            ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o) JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)::text[] AS "refColumns",
            NOT roots.own AS incoming, pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM roots JOIN pg_catalog.pg_constraint con ON con.oid = roots.oid
       JOIN pg_catalog.pg_class cc ON cc.oid = con.conrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_catalog.pg_class pc ON pc.oid = con.confrelid JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
      ORDER BY 2, 3, 1`,
    [oids],
  );
  return r.rows as IncomingForeignKey[];
}

/**
 * Rows of `fk`'s table whose key no longer matches a row of the referenced table. A foreign key of
 * an ordinary table covers its OWN rows and references the other table's own rows (keys are not
 * inherited: an inheritance child's rows are neither checked nor matched), so both sides are read
 * ONLY; a partitioned table's key covers all its partitions (ONLY would read none of them).
 */
export async function orphanCount(client: pg.ClientBase, fk: IncomingForeignKey): Promise<number> {
  const notNull = fk.columns.map((c) => `c.${q(c)} IS NOT NULL`).join(' AND ');
  const match = fk.columns.map((c, i) => `p.${q(fk.refColumns[i])} = c.${q(c)}`).join(' AND ');
  const kinds = await client.query<{ c: string; p: string }>(`SELECT (SELECT relkind FROM pg_catalog.pg_class WHERE oid = $1::regclass) AS c, (SELECT relkind FROM pg_catalog.pg_class WHERE oid = $2::regclass) AS p`, [
    qrel(fk.schema, fk.table),
    qrel(fk.refSchema, fk.refTable),
  ]);
  const only = (kind: string) => (kind === 'p' ? '' : 'ONLY ');
  const r = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${only(kinds.rows[0].c)}${qrel(fk.schema, fk.table)} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${only(kinds.rows[0].p)}${qrel(fk.refSchema, fk.refTable)} p WHERE ${match})`,
  );
  return Number(r.rows[0].n);
}

/** Sequences owned by (serial) or bound to (identity) columns of the given tables: their OIDs. */
export async function ownedSequences(client: pg.ClientBase, oids: number[]): Promise<number[]> {
  const r = await client.query<{ oid: number }>(
    `SELECT d.objid::int8 AS oid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
        AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i') AND s.relkind = 'S'`,
    [oids],
  );
  return r.rows.map((x) => Number(x.oid));
}

/** SQL: constraint `oid` calls (pg_depend) a user-defined function that is not IMMUTABLE. */
const callsNonImmutable = (oid: string) =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_proc fn ON fn.oid = dep.refobjid
            WHERE dep.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND dep.objid = ${oid}
              AND dep.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND fn.oid >= 16384 AND fn.provolatile <> 'i')`;

/** The plan's line for a constraint notValidConstraints sets aside. */
export function setAsideLine(k: { what: string; validated: boolean }): string {
  return k.validated
    ? `set aside ${k.what} while the rows load (it calls a function that may read tables the reload has not filled yet), then add it back, checking every row`
    : `set aside NOT VALID ${k.what} while the rows load (they were never checked against it), then add it back NOT VALID`;
}

/**
 * NOT VALID constraints that a data-only reload's COPY would check against rows they were never
 * validated against: CHECK constraints of the given tables, and constraints of the domains their
 * columns use (through arrays and domains over domains). A backup of rows that break them (what
 * NOT VALID is for: a rule added for new rows only) failed to reload — "violates check constraint",
 * rolled back. They are dropped for the reload and added back as they were, NOT VALID, with their
 * comments. A CHECK a table only inherits (a partition's, a child's) cannot be dropped on its own:
 * it is set aside where it is defined, on the ancestor, and comes back on every descendant, copies
 * someone validated on their own validated again; when a descendant's copy is also its own or has
 * a comment, it stays and such a reload still fails, naming the constraint. `drop`/`add` are the
 * statements, in that order; `relid` the constraint's table (0: a domain's).
 *
 * Also (`validated`: true) the VALID CHECKs of those tables (their own, not inherited) and domains
 * that call a user-defined function that is not IMMUTABLE: it may read another table, which the
 * reload has emptied or not loaded yet (`CHECK (trip_exists(trip_id))`); they come back validated,
 * once every row is in (the backup adds them after the data for the same reason).
 */
export async function notValidConstraints(client: pg.ClientBase, oids: number[]): Promise<{ what: string; drop: string; add: string; domain: boolean; relid: number; validated: boolean }[]> {
  // Inside the restore transaction (search_path '': names and CHECK expressions come out qualified).
  const r = await client.query<{ what: string; drop: string; add: string; domain: boolean; relid: number; validated: boolean }>(
    `WITH RECURSIVE cols AS (
       SELECT DISTINCT a.atttypid AS t FROM pg_catalog.pg_attribute a WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped),
     types AS (
       SELECT t FROM cols
       UNION SELECT CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.typelem END FROM types JOIN pg_catalog.pg_type ty ON ty.oid = types.t
        WHERE ty.typtype = 'd' OR (ty.typelem <> 0 AND ty.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc)),
     -- A NOT VALID CHECK a reloaded table only inherits (a partition's, an inheritance child's) cannot
     -- be dropped there: it is dropped and re-added where it is defined (the ancestor whose copy is
     -- its own), which takes it off and puts it back on every descendant. Only when every
     -- descendant's copy is purely inherited and has no comment (else they would not come back as
     -- they were): otherwise the reload still fails, naming it.
     up AS (
       SELECT k.conname, i.inhparent AS rel FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_inherits i ON i.inhrelid = k.conrelid
        WHERE k.conrelid = ANY($1::oid[]) AND k.contype = 'c' AND (NOT k.convalidated OR ${callsNonImmutable('k.oid')}) AND k.coninhcount > 0 AND NOT k.conislocal
       UNION
       SELECT up.conname, i.inhparent FROM up JOIN pg_catalog.pg_constraint p ON p.conrelid = up.rel AND p.conname = up.conname AND p.contype = 'c' AND p.coninhcount > 0
         JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.rel),
     candidates AS (
       SELECT DISTINCT p.oid, p.conrelid, p.conname FROM up JOIN pg_catalog.pg_constraint p ON p.conrelid = up.rel AND p.conname = up.conname
        WHERE p.contype = 'c' AND p.coninhcount = 0 AND (NOT p.convalidated OR ${callsNonImmutable('p.oid')}) AND NOT p.connoinherit),
     down AS (
       SELECT c.oid AS root, c.conname, i.inhrelid AS rel FROM candidates c JOIN pg_catalog.pg_inherits i ON i.inhparent = c.conrelid
       UNION
       SELECT down.root, down.conname, i.inhrelid FROM down JOIN pg_catalog.pg_inherits i ON i.inhparent = down.rel),
     inherited AS (
       SELECT DISTINCT down.root, d.oid, d.conrelid, d.conname, d.convalidated, d.conislocal FROM down
         JOIN pg_catalog.pg_constraint d ON d.conrelid = down.rel AND d.conname = down.conname AND d.contype = 'c'),
     roots AS (
       SELECT c.oid AS root FROM candidates c
        WHERE NOT EXISTS (SELECT 1 FROM inherited d WHERE d.root = c.oid AND (d.conislocal OR pg_catalog.obj_description(d.oid, 'pg_constraint') IS NOT NULL)))
     SELECT CASE WHEN k.conrelid <> 0 THEN 'CHECK ' || pg_catalog.quote_ident(k.conname) || ' of ' || k.conrelid::pg_catalog.regclass::text
                 ELSE 'constraint ' || pg_catalog.quote_ident(k.conname) || ' of domain ' || k.contypid::pg_catalog.regtype::text END AS what,
            CASE WHEN k.conrelid <> 0 THEN 'ALTER TABLE ' || k.conrelid::pg_catalog.regclass::text ELSE 'ALTER DOMAIN ' || k.contypid::pg_catalog.regtype::text END
              || ' DROP CONSTRAINT ' || pg_catalog.quote_ident(k.conname) AS drop,
            CASE WHEN k.conrelid <> 0 THEN 'ALTER TABLE ' || k.conrelid::pg_catalog.regclass::text ELSE 'ALTER DOMAIN ' || k.contypid::pg_catalog.regtype::text END
              || ' ADD CONSTRAINT ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
              || coalesce('; COMMENT ON CONSTRAINT ' || pg_catalog.quote_ident(k.conname) || ' ON '
                   || CASE WHEN k.conrelid <> 0 THEN k.conrelid::pg_catalog.regclass::text ELSE 'DOMAIN ' || k.contypid::pg_catalog.regtype::text END
                   || ' IS ' || pg_catalog.quote_literal(pg_catalog.obj_description(k.oid, 'pg_constraint')), '')
              -- Descendants whose copy someone VALIDATEd on its own: validated again after the re-add.
              || coalesce((SELECT pg_catalog.string_agg('; ALTER TABLE ' || d.conrelid::pg_catalog.regclass::text || ' VALIDATE CONSTRAINT ' || pg_catalog.quote_ident(d.conname), '' ORDER BY d.conrelid)
                             FROM inherited d WHERE d.root = k.oid AND d.convalidated), '') AS add,
            k.conrelid = 0 AS domain, k.conrelid::int AS relid, k.convalidated AS validated
       FROM pg_catalog.pg_constraint k
      WHERE (k.contype = 'c'
             AND (NOT k.convalidated OR ${callsNonImmutable('k.oid')})
             AND ((k.conrelid = ANY($1::oid[]) AND k.coninhcount = 0) OR (k.conrelid = 0 AND k.contypid IN (SELECT t FROM types))))
         OR k.oid IN (SELECT root FROM roots)
      ORDER BY 1`,
    [oids],
  );
  return r.rows;
}

/**
 * What the plan says when the target database's encoding cannot be trusted to hold the backup's
 * text as it was: another encoding than the source's, unless the target is UTF8 (every encoding
 * converts to it; SQL_ASCII bytes are not text in any encoding). A value the target's encoding
 * cannot hold fails the restore at its row (rolled back); into SQL_ASCII the bytes are stored
 * unchecked. Said before anything is loaded; a backup without a recorded encoding says nothing.
 */
export async function encodingWarnings(client: pg.ClientBase, sourceEncoding: string | undefined): Promise<string[]> {
  if (!sourceEncoding) return [];
  const r = await client.query<{ enc: string }>(`SELECT pg_catalog.pg_encoding_to_char(d.encoding) AS enc FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`);
  const target = r.rows[0]?.enc;
  if (!target || target === sourceEncoding || (target === 'UTF8' && sourceEncoding !== 'SQL_ASCII')) return [];
  return [
    target === 'SQL_ASCII'
      ? `the target database's encoding is SQL_ASCII, the backup's ${sourceEncoding}: its text is stored as bytes, unchecked, and the server no longer knows it as ${sourceEncoding} text`
      : `the target database's encoding is ${target}, the backup's ${sourceEncoding}: a value that ${target} cannot hold fails the restore at its row (rolled back); restore into a ${sourceEncoding === 'SQL_ASCII' || sourceEncoding === 'UTF8' ? sourceEncoding : `UTF8 or ${sourceEncoding}`} database to keep every value`,
  ];
}

/** Enabled user triggers of the given tables (disabled during a data-only reload, re-enabled after). */
export async function enabledUserTriggers(client: pg.ClientBase, oids: number[]): Promise<{ rel: string; name: string; enable: string }[]> {
  // `enable`: the ENABLE form that puts each trigger back in its own firing mode (O/A/R).
  const r = await client.query<{ rel: string; name: string; enable: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS rel, t.tgname AS name,
            CASE t.tgenabled WHEN 'A' THEN 'ENABLE ALWAYS' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE' END AS enable
       FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgrelid = ANY($1::oid[]) AND NOT t.tgisinternal AND t.tgenabled <> 'D'`,
    [oids],
  );
  return r.rows;
}

/**
 * Tables among `names` (qualified, quoted) whose row-level security applies to the
 * restoring role (it has neither SUPERUSER nor BYPASSRLS, and the table forces row security or
 * another role owns it): under the archive's row_security = off, COPY into them and reads of them
 * fail. `owned`: the role may lift FORCE for the reload (it owns the table).
 */
async function rowSecurityApplies(client: pg.ClientBase, names: string[]): Promise<{ rel: string; owned: boolean }[]> {
  const r = await client.query<{ rel: string; owned: boolean }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS rel, pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owned
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::text[]::pg_catalog.regclass[]) AND c.relrowsecurity
        AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
        AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(c.relowner, 'USAGE'))
      ORDER BY 1`,
    [names],
  );
  return r.rows;
}

/**
 * Lifts FORCE ROW LEVEL SECURITY on the tables (of `tables`) whose policies apply to this role and
 * that it owns, answering them (to put FORCE back); refuses, naming them, tables of another owner
 * whose policies apply to it (their rows cannot all be read).
 */
export async function liftForcedRowSecurity(client: pg.ClientBase, tables: { schema: string; name: string }[]): Promise<string[]> {
  if (!tables.length) return [];
  const rls = await rowSecurityApplies(client, tables.map((t) => qrel(t.schema, t.name)));
  const notOwned = rls.filter((x) => !x.owned).map((x) => x.rel);
  if (notOwned.length) throw new AppError('db_permission', `row-level security of ${notOwned.join(', ')} applies to this role, which does not own ${notOwned.length === 1 ? 'it' : 'them'}: the restore must write and read every row; restore as the owner or a role with BYPASSRLS`);
  for (const x of rls) await client.query(`ALTER TABLE ${x.rel} NO FORCE ROW LEVEL SECURITY`);
  return rls.map((x) => x.rel);
}

/**
 * Whether the target server can compress with lz4 (PostgreSQL built --with-lz4; the embedded
 * PostgreSQL 17 is not): `ALTER … SET COMPRESSION lz4` fails there ("compression method lz4 not
 * supported"). A server that does not list the setting is taken to support it.
 */
export async function targetHasLz4(client: pg.ClientBase): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>(`SELECT 'lz4' = ANY(s.enumvals) AS ok FROM pg_catalog.pg_settings s WHERE s.name = 'default_toast_compression'`);
  return r.rows[0]?.ok ?? true;
}
