import { createHash } from 'node:crypto';
import type pg from 'pg';
import os from 'node:os';
import { Readable } from 'node:stream';
import { AppError, oneLine, toAppError } from '../../errors';
import type { ArchiveSource } from '../archive-reader';
import { ByteReader, readMember, skipBytes } from '../archive-reader';
import type { Manifest, ManifestEntry, ManifestTable } from '../manifest';
import { describeEntry, memberRawBytes, physicalMembers } from '../manifest';
import { qualifiedName, quoteIdent } from '../catalog/quote-ident';
import { RESTORE_WARNING_CODE } from '../catalog/kinds/kind-types';
import { scanSql } from '../sql-scan';
import { copyMember, readSqlMember } from './load-member';
import { tkey } from './plan-base';
import { enabledUserTriggers, liftForcedRowSecurity } from './target-catalog';
import type { LoadCounters, MemberAction, MemberConsumer, MemberReader, RestoredTable } from './restore-types';
import { readTableContent } from './table-content';

/**
 * Restore, phase 3: THE load-and-verify loop. Every restore — atomic (one connection, one pass over
 * the archive), parallel (`--jobs`: each connection runs this loop over its share of the members)
 * and drills — loads members only through `loadMembers`, and compares the result with the manifest
 * only through `verifyTables`.
 */

/** Collects a (packed, small) member's decompressed bytes. */
async function collect(out: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of out as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** Entry `e`'s slice of its packed member's bytes (format v3), as a stream. */
function partOf(bytes: Buffer, e: ManifestEntry): Readable {
  const start = e.part ?? 0;
  if (start + e.rawLength > bytes.length) throw new AppError('corrupt', `${describeEntry(e)}: its part ends at byte ${start + e.rawLength} of a member of ${bytes.length} bytes`);
  return Readable.from([bytes.subarray(start, start + e.rawLength)]);
}

/** What each gzip member (by offset) decompresses to, by the manifest: readers stop it there. */
function memberSizes(m: Manifest): Map<number, number> {
  return new Map(physicalMembers(m.entries).map((x) => [x.offset, memberRawBytes(x.entries)]));
}

/**
 * readMember of an unpacked member, checked by its compressed bytes' SHA-256 when the manifest
 * records one (ManifestEntry.gzSha256): `consume` is told so (its second argument) and need not
 * hash the decompressed bytes. The check runs before this resolves, so before the caller commits.
 */
async function readChecked<T>(reader: ByteReader, e: ManifestEntry, raw: { bytes: number; exact: boolean }, consume: MemberConsumer<T>): Promise<T> {
  const gz = e.gzSha256 !== undefined ? createHash('sha256') : undefined;
  const v = await readMember(reader, e.length, raw, (out) => consume(out, gz !== undefined), gz);
  if (gz && gz.digest('hex') !== e.gzSha256) throw new AppError('corrupt', `${describeEntry(e)}: compressed SHA-256 does not match the manifest`);
  return v;
}

/**
 * Members read from ONE sequential stream of the archive (members must be asked for in archive
 * order). A packed member (v3: several entries share it) is decompressed once, when the first of
 * its entries is read, and each entry gets its slice; members nobody reads are passed over.
 */
export async function sequentialReader(source: ArchiveSource, m: Manifest): Promise<MemberReader> {
  const rawBytes = memberSizes(m);
  const stream = await source.openArchive();
  const reader = new ByteReader(stream, { hash: false });
  let packed: { offset: number; bytes: Buffer } | undefined;
  const seek = async (to: number) => {
    if (reader.position < to) await skipBytes(reader, to - reader.position);
  };
  return {
    get position() {
      return reader.position;
    },
    async read(e, consume) {
      await seek(e.offset);
      const raw = { bytes: rawBytes.get(e.offset) ?? 0, exact: true };
      if (e.part === undefined) return readChecked(reader, e, raw, consume);
      if (packed?.offset !== e.offset) packed = { offset: e.offset, bytes: await readMember(reader, e.length, raw, collect) };
      return consume(partOf(packed.bytes, e));
    },
    async skip(e) {
      if (e.part === undefined) {
        await seek(e.offset);
        await skipBytes(reader, e.length);
      }
    },
    async close() {
      await reader.close().catch(() => {});
      stream.destroy();
    },
  };
}

/**
 * Members each read by its own ranged read (any order, any number at once: the parallel restore).
 * A packed member is fetched once for all its entries (the last few are kept).
 */
export function rangedReader(source: ArchiveSource, m: Manifest): MemberReader {
  const rawBytes = memberSizes(m);
  let position = 0;
  const packed = new Map<number, Promise<Buffer>>();
  const fetch = async <T>(e: ManifestEntry, consume: MemberConsumer<T>): Promise<T> => {
    const stream = await source.openArchive({ start: e.offset, end: e.offset + e.length - 1 });
    try {
      // No archive-level hash of a range (the member's own SHA-256 is checked as it is read).
      return await readChecked(new ByteReader(stream, { hash: false }), e, { bytes: rawBytes.get(e.offset) ?? 0, exact: true }, consume);
    } finally {
      position += e.length;
      stream.destroy();
    }
  };
  return {
    get position() {
      return position;
    },
    async read<T>(e: ManifestEntry, consume: MemberConsumer<T>): Promise<T> {
      if (e.part === undefined) return fetch(e, consume);
      let bytes = packed.get(e.offset);
      if (!bytes) {
        bytes = fetch(e, collect);
        bytes.catch(() => packed.delete(e.offset));
        packed.set(e.offset, bytes);
        if (packed.size > 8) packed.delete(packed.keys().next().value!);
      }
      return consume(partOf(await bytes, e));
    },
    async skip(e) {
      if (e.part === undefined) position += e.length;
    },
    async close() {},
  };
}

/** Members smaller than this load as text (converting them would not pay for the catalog query). */
const BINARY_MIN_BYTES = 1 << 20;

/**
 * Whether a restore converts rows to COPY BINARY in this process: on 2+ cores (the server backend
 * keeps one), unless TICKETHUB_RESTORE_COPY=text.
 */
export function binaryCopyWanted(): boolean {
  return os.availableParallelism() >= 2 && process.env.TICKETHUB_RESTORE_COPY !== 'text';
}

/** What the loop reports and how it may be interrupted. */
export interface LoadContext {
  counters: LoadCounters;
  signal?: AbortSignal;
  /** Rows per table loaded so far (tkey → rows). */
  loaded: Map<string, number>;
  /** Error that broke the connection, if any (checked between members). */
  lost?: () => unknown;
  /** Where the loop says what it did not do (an optional member it rolled back). */
  warnings?: string[];
  /**
   * The target cannot compress with lz4 (targetHasLz4): a member's `ALTER … SET COMPRESSION lz4`
   * statements are left out (its columns keep the server's default method; their values are the
   * same) and the member is listed here for the restore's warning (lz4Warning).
   */
  withoutLz4?: string[];
  /** Called before each member and as COPY data flows. */
  onMember?: (current: string) => void;
  /** After a table-data member is loaded (the parallel restore notes where its rows end). */
  afterCopy?: (e: ManifestEntry, rows: number) => Promise<void>;
  /** COPY without FREEZE (the table was not created or truncated in this transaction). */
  noFreeze?: boolean;
  /**
   * Convert big members' rows to COPY BINARY in this process (binary-copy.ts): the server's binary
   * receive does a fraction of the work of parsing text. The atomic restore's one backend is the
   * bottleneck while this process has a core to spare; in `--jobs` the conversion (~0.8 µs a row
   * of tickethub_bench's activity log) costs less CPU than the parsing it saves the server (~1.3 µs).
   */
  binary?: boolean;
  /**
   * Awaited before a sequence-set member runs: setval on a sequence that existed before the restore
   * (data-only) is not undone by ROLLBACK, so the atomic restore runs it only after the archive's
   * SHA-256 has matched.
   */
  beforeSequences?: () => Promise<void>;
}

/**
 * The WARNINGs the archive's own DO blocks raise on `client` from now on (SQLSTATE
 * RESTORE_WARNING_CODE: an extension's schema created without its owner or privileges), each once,
 * in order: said in the restore's result as psql prints them. Call the returned function for the list.
 */
export function serverWarnings(client: pg.ClientBase): () => string[] {
  const seen = new Set<string>();
  client.on('notice', (n: { severity?: string; code?: string; message?: string }) => {
    if (n.severity === 'WARNING' && n.code === RESTORE_WARNING_CODE && n.message) seen.add(n.message);
  });
  return () => [...seen];
}

/**
 * The backup's populated materialized views that this restore refreshed but left unpopulated: their
 * REFRESH (refreshSql) failed for lack of privilege, because the view's owner may not read what it
 * selects — as in the source, where its REFRESH fails too. One warning each, naming it and the fix.
 */
export async function unpopulatedMatviews(client: pg.ClientBase, entries: ManifestEntry[], actions: MemberAction[]): Promise<string[]> {
  const refreshed = entries.filter((e) => e.kind === 'MATERIALIZED VIEW DATA' && e.schema !== null && actions[e.index]?.kind === 'exec');
  if (!refreshed.length) return [];
  const r = await client.query<{ q: string; owner: string }>(
    `SELECT pg_catalog.quote_ident(x.s) || '.' || pg_catalog.quote_ident(x.n) AS q, pg_catalog.pg_get_userbyid(c.relowner) AS owner
       FROM unnest($1::text[], $2::text[]) AS x(s, n)
       JOIN pg_catalog.pg_namespace ns ON ns.nspname = x.s
       JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = x.n
      WHERE c.relkind = 'm' AND NOT c.relispopulated ORDER BY 1`,
    [refreshed.map((e) => e.schema), refreshed.map((e) => e.name)],
  );
  return r.rows.map((v) => `materialized view ${v.q} left unpopulated: its owner ${quoteIdent(v.owner)} may not read what it selects, so its REFRESH fails in the source database too; grant that, then run REFRESH MATERIALIZED VIEW ${v.q}`);
}

/**
 * Loads `entries` (in the order given) on `client`: SQL members executed (after the plan's rewrite
 * or filter), table-data members streamed through COPY with the statement built from the manifest,
 * skipped members passed over. Each member's SHA-256 is checked (SQL: before it runs; COPY: before
 * the caller's COMMIT) and each COPY's server row count compared with the manifest's. A failure is
 * an AppError naming the member.
 */
export async function loadMembers(client: pg.ClientBase, reader: MemberReader, entries: ManifestEntry[], actions: MemberAction[], ctx: LoadContext): Promise<void> {
  for (const e of entries) {
    if (ctx.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
    if (ctx.lost?.()) throw toAppError(ctx.lost(), 'lost the connection to the target');
    const a = actions[e.index];
    const current = describeEntry(e);
    ctx.onMember?.(current);
    try {
      if (a.kind === 'skip') {
        // A schema/sequence member this mode does not run is still checked against its kind: a
        // backup that fails verify (SQL a psql restore would run) is not restored in part either.
        if (e.section === 'table-data') await reader.skip(e);
        else await reader.read(e, (out) => readSqlMember(out, e));
        continue;
      }
      if (a.kind === 'exec') {
        let sql = await reader.read(e, (out) => readSqlMember(out, e));
        sql = await execSql(client, a, sql, ctx, current);
        if (e.section === 'sequence-set') await ctx.beforeSequences?.();
        if (sql.trim() && a.optional) await runOptional(client, sql, a.optional, ctx);
        else if (sql.trim()) await client.query(sql);
      } else {
        // A referenced table outside the backup (auth.users) is the TARGET's own table, with the
        // target's triggers: one creating a row elsewhere per user (a profile, which the backup
        // has already) would fire on every backed-up row. Its user triggers are off while its
        // rows load, inside the load's transaction, and back in their own firing mode after.
        const off = a.table.referenced ? await userTriggersOff(client, a.into ?? a.table) : [];
        const rows = await reader.read(e, (out, gzChecked) => copyMember(client, out, e, a.table, { gzChecked, signal: ctx.signal, freeze: !a.table.referenced && !ctx.noFreeze, into: a.into, binary: ctx.binary && e.rawLength >= BINARY_MIN_BYTES, onBinaryRows: (n) => (ctx.counters.binaryRows = (ctx.counters.binaryRows ?? 0) + n), onBytes: () => ctx.onMember?.(current) }));
        for (const t of off) await client.query(`ALTER TABLE ${t.rel} ${t.enable} TRIGGER ${quoteIdent(t.name)}`);
        // Its own sequences (serial, identity) are the target's too: moved past the loaded keys, or
        // the next insert collides with a restored row.
        if (a.table.referenced && a.table.entries[a.table.entries.length - 1] === e.index) await advanceOwnedSequences(client, a.into ?? a.table, ctx);
        ctx.counters.rowsLoaded += rows;
        const k = tkey(a.table.schema, a.table.name);
        ctx.loaded.set(k, (ctx.loaded.get(k) ?? 0) + rows);
        if (a.table.entries[a.table.entries.length - 1] === e.index) ctx.counters.tablesDone++;
        await ctx.afterCopy?.(e, rows);
      }
    } catch (err) {
      const ae = toAppError(err);
      if (ae.code === 'aborted' || ctx.signal?.aborted) throw new AppError('aborted', 'restore interrupted', { cause: err });
      const msg = oneLine(ae.message);
      throw new AppError(ae.code === 'internal' ? 'db_error' : ae.code, msg.startsWith(`${current}: `) ? msg : `${current}: ${msg}`, { cause: err });
    }
  }
}

/** A SQL member's text as this restore runs it: the plan's rewrite and filter, lz4 compression left out where the target lacks it. */
export async function execSql(client: pg.ClientBase, a: Extract<MemberAction, { kind: 'exec' }>, sql: string, ctx: LoadContext, what: string): Promise<string> {
  if (a.rewrite) sql = a.rewrite(sql);
  if (a.filter) sql = await a.filter(client, sql);
  if (ctx.withoutLz4 && /\bCOMPRESSION\s+lz4\b/i.test(sql)) sql = withoutLz4(sql, what, ctx.withoutLz4);
  return sql;
}

/** `sql` without its top-level `ALTER … SET COMPRESSION lz4` statements (LoadContext.withoutLz4); `what` listed when there were any. */
function withoutLz4(sql: string, what: string, dropped: string[]): string {
  const scan = scanSql(sql);
  if (scan.unterminated) return sql;
  const keep = scan.statements.filter((st) => !(st.words[0] === 'ALTER' && st.words.slice(-3).join(' ') === 'SET COMPRESSION LZ4'));
  if (keep.length === scan.statements.length) return sql;
  dropped.push(what);
  return keep.map((st) => `${st.text};\n`).join('');
}

/** The restore's warning for the members whose lz4 column compression was left out (LoadContext.withoutLz4), or none. */
export function lz4Warning(dropped: string[] | undefined): string[] {
  const all = [...new Set(dropped ?? [])];
  if (!all.length) return [];
  const shown = all.slice(0, 5).join(', ');
  return [`the target server is built without lz4: column compression lz4 of ${all.length} object${all.length === 1 ? '' : 's'} (${shown}${all.length > 5 ? ', …' : ''}) left at the server's default method; the values are the same`];
}

/** Runs an optional member (MemberAction.optional) in a savepoint; see there. */
async function runOptional(client: pg.ClientBase, sql: string, warning: (message: string) => string, ctx: LoadContext): Promise<void> {
  await client.query('SAVEPOINT tickethub_optional_member');
  try {
    await client.query(sql);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('42') || ctx.lost?.()) throw err;
    await client.query('ROLLBACK TO SAVEPOINT tickethub_optional_member');
    ctx.warnings?.push(warning(oneLine(toAppError(err).message)));
  }
  await client.query('RELEASE SAVEPOINT tickethub_optional_member');
}

/** Disables the enabled user triggers of `table` (in the caller's transaction); returns them to re-enable. */
async function userTriggersOff(client: pg.ClientBase, table: { schema: string; name: string }): Promise<{ rel: string; name: string; enable: string }[]> {
  const oid = Number((await client.query(`SELECT $1::regclass::oid AS oid`, [qualifiedName(table.schema, table.name)])).rows[0].oid);
  const triggers = await enabledUserTriggers(client, [oid]);
  for (const t of triggers) await client.query(`ALTER TABLE ${t.rel} DISABLE TRIGGER ${quoteIdent(t.name)}`);
  return triggers;
}

/**
 * Moves each sequence owned by a column of `table` to the column's max when it is behind (never
 * back). setval is not undone by ROLLBACK: it waits for `beforeSequences` (the archive's SHA-256),
 * and only when there is a sequence to move.
 */
async function advanceOwnedSequences(client: pg.ClientBase, table: { schema: string; name: string }, ctx: LoadContext): Promise<void> {
  const rel = qualifiedName(table.schema, table.name);
  const r = await client.query<{ seq: string; col: string }>(
    `SELECT s.oid::pg_catalog.regclass::text AS seq, pg_catalog.quote_ident(a.attname) AS col
       FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.refobjid = $1::pg_catalog.regclass AND d.deptype IN ('a', 'i')
        AND a.atttypid IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype, 'pg_catalog.int8'::pg_catalog.regtype)`,
    [rel],
  );
  if (r.rows.length === 0) return;
  await ctx.beforeSequences?.();
  for (const { seq, col } of r.rows) {
    await client.query(
      `SELECT pg_catalog.setval($1::pg_catalog.regclass, x.m) FROM (SELECT max(${col})::int8 AS m FROM ONLY ${rel}) x, ${seq} s
        WHERE x.m IS NOT NULL AND (x.m > s.last_value OR (x.m = s.last_value AND NOT s.is_called))`,
      [seq],
    );
  }
}

/**
 * Compares the restored tables with the manifest: the rows each COPY loaded (the server's count),
 * and with `checkContent` the table re-read and fingerprinted exactly as the backup hashed it
 * (proving the server stored exactly what was sent). Throws 'verification_failed' listing the
 * differences (details.tables: the per-table report); returns the report when everything matches.
 */
export async function verifyTables(
  client: pg.ClientBase,
  m: Manifest,
  tables: ManifestTable[],
  loaded: Map<string, number>,
  opts: { checkContent: boolean; locate?: (t: ManifestTable) => { schema: string; name: string } | undefined; signal?: AbortSignal; onTable?: (t: ManifestTable, i: number) => void },
): Promise<RestoredTable[]> {
  const report: RestoredTable[] = [];
  // Post-data has enabled row-level security by now: where it applies to this role (FORCE on its own
  // tables, no BYPASSRLS: Supabase's admin role), the re-read under row_security = off would fail.
  // FORCE is lifted for the re-read, inside this transaction, and put back right after.
  const forced = opts.checkContent ? await liftForcedRowSecurity(client, tables.filter((t) => !t.dataExcluded).map((t) => opts.locate?.(t) ?? t)) : [];
  let i = 0;
  for (const t of tables) {
    if (t.dataExcluded) continue;
    opts.onTable?.(t, i++);
    if (opts.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
    let rows = loaded.get(tkey(t.schema, t.name)) ?? 0;
    let contentMatches: boolean | null = null;
    if (opts.checkContent) {
      const c = await readTableContent(client, m, t, opts.locate?.(t));
      rows = c.rows;
      contentMatches = c.contentSha256 === t.contentSha256;
    }
    report.push({ schema: t.schema, name: t.name, expectedRows: t.rows, rows, contentMatches });
  }
  for (const rel of forced) await client.query(`ALTER TABLE ${rel} FORCE ROW LEVEL SECURITY`);
  return checkReport(m, report);
}

/** Throws 'verification_failed' when any table of the report differs from the manifest. */
export function checkReport(m: Manifest, report: RestoredTable[]): RestoredTable[] {
  const mismatches = report
    .filter((t) => t.rows !== t.expectedRows || t.contentMatches === false)
    .map((t) => (t.rows !== t.expectedRows ? `${t.schema}.${t.name}: ${t.rows} rows, backup has ${t.expectedRows}` : `${t.schema}.${t.name}: content hash differs from the backup's`));
  if (mismatches.length) {
    throw new AppError('verification_failed', `restored data does not match backup ${m.id}: ${mismatches.slice(0, 3).join('; ')}${mismatches.length > 3 ? ` (+${mismatches.length - 3} more)` : ''}`, {
      details: { tables: report },
    });
  }
  return report;
}
