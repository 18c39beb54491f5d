import type pg from 'pg';
import { AppError, oneLine, toAppError } from '../../errors';
import type { ManifestEntry } from '../manifest';
import { describeEntry } from '../manifest';
import type { LoadContext } from './load-loop';
import { execSql, loadMembers } from './load-loop';
import { readSqlMember } from './load-member';
import type { MemberAction, MemberReader } from './restore-types';

/**
 * SQL members in batches (the parallel restore's many-small-objects path). A 5,000-table catalog
 * has ~35,000 SQL objects; one query (and, outside a transaction, one commit) each made a `--jobs`
 * restore mostly round trips. Here consecutive members are read — each one's SHA-256 and kind
 * checked as always — joined and sent as ONE multi-statement query, which PostgreSQL runs as one
 * implicit transaction: all of it or nothing. A batch that fails left nothing behind and runs again
 * member by member through the load loop, so the failure names its member exactly as before.
 *
 * Each batch's locks stay within `lockLimit` (from the target's lock table, lock-budget.ts), counted
 * high: LOCKS_PER_STATEMENT per statement.
 */

/**
 * Lock-table entries one statement may hold until its transaction ends, counted high: CREATE TABLE
 * locks the table, its TOAST table and TOAST index and its row type; ADD PRIMARY KEY the table, the
 * index and the constraint; ADD FOREIGN KEY both tables, the referenced index and the constraint;
 * ALTER TABLE ... OWNER the table, its TOAST relations, indexes and owned sequences.
 */
export const LOCKS_PER_STATEMENT = 6;

/** SQL text per batch: enough to make round trips negligible, small enough to stay a short statement. */
const BATCH_SQL_CHARS = 1 << 20;

/** Statements in a member (semicolons that end a line; a function body's count high, which is safe). */
export function statementCount(sql: string): number {
  let n = 0;
  for (let i = sql.indexOf(';'); i !== -1; i = sql.indexOf(';', i + 1)) {
    const next = sql.charCodeAt(i + 1);
    if (Number.isNaN(next) || next === 10 || next === 13) n++;
  }
  return Math.max(1, n);
}

/**
 * The statements of `sql` (each with its `;` and what follows up to the next statement), split at
 * semicolons outside quoted identifiers, string literals and comments; null when the text has
 * anything this does not follow (a dollar-quoted body, an escape string): then it is not split.
 */
export function splitStatements(sql: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      if (c === "'" && i > 0 && /[eEuU&]/.test(sql[i - 1])) return null;
      i++;
      for (;;) {
        if (i >= n) return null;
        if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === '$') {
      return null;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? n : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      return null;
    } else if (c === ';') {
      i++;
      while (i < n && (sql[i] === '\n' || sql[i] === '\r' || sql[i] === ' ')) i++;
      out.push(sql.slice(start, i));
      start = i;
    } else i++;
  }
  if (sql.slice(start).trim()) out.push(sql.slice(start));
  return out;
}

/** Locks a member's SQL may take (see LOCKS_PER_STATEMENT). */
export function sqlLocks(sql: string): number {
  return statementCount(sql) * LOCKS_PER_STATEMENT;
}

/**
 * Runs `entries` on `client` in archive order like `loadMembers`, SQL members batched (see the module
 * comment). Only members whose text ends a statement (`;` at its end) are joined to the next one, so
 * no member's text can run as part of another's statement; table-data and skipped members go through
 * the load loop one by one.
 */
export async function runSqlBatched(client: pg.ClientBase, reader: MemberReader, entries: ManifestEntry[], actions: MemberAction[], ctx: LoadContext, lockLimit: number): Promise<void> {
  let batch: { e: ManifestEntry; sql: string }[] = [];
  let locks = 0;
  let chars = 0;
  const flush = async () => {
    const b = batch;
    batch = [];
    locks = 0;
    chars = 0;
    if (b.length === 0) return;
    try {
      await client.query(b.length === 1 ? b[0].sql : b.map((x) => x.sql).join('\n'));
    } catch (err) {
      if (ctx.signal?.aborted) throw new AppError('aborted', 'restore interrupted', { cause: err });
      if (ctx.lost?.()) throw toAppError(ctx.lost(), 'lost the connection to the target');
      // Rolled back as a whole: again one by one, so the error names the member that fails.
      await loadMembers(client, reader, b.map((x) => x.e), actions, ctx);
    }
  };
  for (const e of entries) {
    const a = actions[e.index];
    if (a.kind !== 'exec' || lockLimit <= 0) {
      await flush();
      await loadMembers(client, reader, [e], actions, ctx);
      continue;
    }
    if (ctx.signal?.aborted) throw new AppError('aborted', 'restore interrupted');
    if (ctx.lost?.()) throw toAppError(ctx.lost(), 'lost the connection to the target');
    ctx.onMember?.(describeEntry(e));
    let sql: string;
    try {
      sql = await execSql(client, a, await reader.read(e, (out) => readSqlMember(out, e)), ctx, describeEntry(e));
    } catch {
      // A member that cannot be read or fails its checks: what came before it runs first, then the
      // load loop reads it again and fails with its usual, member-naming error.
      await flush();
      await loadMembers(client, reader, [e], actions, ctx);
      continue;
    }
    if (!sql.trim()) continue;
    const w = sqlLocks(sql);
    // One member over the limit on its own (the OWNER and ACL members and the sequence values of a
    // 5,000-table catalog: thousands of statements): its statements in batches, in order.
    if (w > lockLimit && (await runInPieces(client, e, sql, lockLimit, flush))) continue;
    if (batch.length > 0 && (locks + w > lockLimit || chars + sql.length > BATCH_SQL_CHARS)) await flush();
    batch.push({ e, sql });
    locks += w;
    chars += sql.length;
    // A member whose text does not end its last statement is never joined with the next one.
    if (!sql.trimEnd().endsWith(';')) await flush();
  }
  await flush();
}

/**
 * Runs one member's statements in batches within `lockLimit` (after `flush`ing what came before);
 * false when its text cannot be split safely (then it runs whole, as always). A failing batch is
 * rolled back and fails the restore naming the member.
 */
async function runInPieces(client: pg.ClientBase, e: ManifestEntry, sql: string, lockLimit: number, flush: () => Promise<void>): Promise<boolean> {
  const statements = splitStatements(sql);
  if (!statements || statements.length < 2) return false;
  await flush();
  const per = Math.max(1, Math.floor(lockLimit / LOCKS_PER_STATEMENT));
  for (let i = 0; i < statements.length; i += per) {
    try {
      await client.query(statements.slice(i, i + per).join(''));
    } catch (err) {
      const ae = toAppError(err);
      throw new AppError(ae.code === 'internal' ? 'db_error' : ae.code, `${describeEntry(e)}: ${oneLine(ae.message)}`, { cause: err });
    }
  }
  return true;
}
