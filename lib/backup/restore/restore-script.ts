import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../../errors';
import { inOneTransaction, restoreFailure } from './one-transaction';
import { connectTarget } from './preflight';
import type { RestoredTable } from './restore-types';
import { freshConflicts } from './target-catalog';

const COPY_RE = /^COPY ([\s\S]+?) (?:\([\s\S]*\) )?FROM stdin;$/;
const TERM = Buffer.from('\\.\n');

/**
 * Last resort for an archive file whose manifest is lost (`restore <file> --force`): runs the
 * archive as the plain SQL script it is (what `gunzip -c | psql` would do) in ONE transaction —
 * SQL text between COPY blocks with the simple query protocol, COPY blocks through COPY FROM
 * STDIN. Without a manifest nothing can be checked (no SHA-256, no row counts, no content hashes),
 * which the result says; fresh mode into an empty database only.
 */
export async function restoreScriptWithoutManifest(opts: { file: string; targetUrl: string; target: string; signal?: AbortSignal }): Promise<{ tables: RestoredTable[]; rows: number }> {
  const conn = await connectTarget(opts.targetUrl);
  const tx = { open: false };
  try {
    const c = await freshConflicts(conn.client, ['public'], []);
    if (c.total > 0) throw new AppError('conflict', `target ${opts.target} is not empty: it has ${c.sample.join(', ')}; a restore without manifest goes only into an empty database`);
    return await inOneTransaction(conn.client, opts.targetUrl, tx, opts.signal, (client) => runScript(client, opts.file, opts.signal));
  } catch (err) {
    throw await restoreFailure(err, conn.client, tx);
  } finally {
    await conn.client.end().catch(() => {});
  }
}

/** Executes the archive file as a script on `client` (inside the caller's transaction). */
async function runScript(client: pg.Client, file: string, signal?: AbortSignal): Promise<{ tables: RestoredTable[]; rows: number }> {
  const tables: RestoredTable[] = [];
  let sql: Buffer[] = [];
  let copy: { stream: PassThrough; done: Promise<void>; table: string; counter: { rowCount?: number } } | null = null;
  let pending: Buffer = Buffer.alloc(0);
  const statements = new StatementTracker();
  const flushSql = async () => {
    const text = Buffer.concat(sql).toString('utf8');
    sql = [];
    if (text.trim()) await client.query(text);
  };
  // Not a bare .pipe(): a read error of the file must reach the loop below (pipe() drops it,
  // leaving gunzip waiting forever and the error uncaught).
  const input0 = createReadStream(file);
  const input = zlib.createGunzip();
  input0.on('error', (err) => input.destroy(err));
  input0.pipe(input);
  for await (const chunk of input as AsyncIterable<Buffer>) {
    if (signal?.aborted) throw new AppError('aborted', 'restore interrupted');
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      if (copy) {
        // Rows until a line that is exactly `\.`.
        let end = pending.subarray(0, 3).equals(TERM) ? 0 : -1;
        if (end === -1) {
          const i = pending.indexOf('\n\\.\n');
          end = i === -1 ? -1 : i + 1;
        }
        if (end === -1) {
          // Keep a tail that could start the terminator; send the rest.
          const cut = Math.max(0, pending.lastIndexOf(10) + 1);
          if (cut > 0) {
            // A COPY the server rejected never drains: wait for drain OR its failure.
            if (!copy.stream.write(pending.subarray(0, cut))) await Promise.race([new Promise((r) => copy!.stream.once('drain', r)), copy.done]);
            pending = pending.subarray(cut);
          }
          break;
        }
        copy.stream.end(pending.subarray(0, end));
        await copy.done;
        tables.push({ schema: '', name: copy.table, expectedRows: NaN, rows: Number(copy.counter.rowCount ?? 0), contentMatches: null });
        pending = pending.subarray(end + 3);
        copy = null;
        continue;
      }
      const nl = pending.indexOf(10);
      if (nl === -1) break;
      sql.push(pending.subarray(0, nl + 1));
      const stmt = statements.line(pending.subarray(0, nl).toString('utf8'));
      const m = stmt === null ? null : COPY_RE.exec(stmt);
      if (m) {
        // The COPY statement may span several lines (a name with a newline): all of them are its.
        sql.splice(sql.length - statements.lastLines);
        await flushSql();
        const stream = new PassThrough();
        const q = client.query(copyFrom(stmt!.slice(0, -1)));
        const done = pipeline(stream, q);
        // The server may reject the data long before the block ends: awaited below, never unhandled.
        done.catch(() => {});
        copy = { stream, done, table: m[1], counter: q as unknown as { rowCount?: number } };
      }
      pending = pending.subarray(nl + 1);
    }
  }
  if (copy) throw new AppError('corrupt', `archive ends inside the data of ${copy.table} (truncated)`);
  if (pending.length) sql.push(pending);
  await flushSql();
  return { tables, rows: tables.reduce((s, t) => s + t.rows, 0) };
}

/**
 * Follows SQL text line by line the way psql's lexer does (quoted identifiers, string literals,
 * E'' strings, dollar quotes, comments), to find where each statement ends — a name may hold a
 * newline, so a statement (a COPY line included) can span several lines.
 */
class StatementTracker {
  private state: 'code' | 'dq' | 'sq' | 'esq' | 'dollar' | 'block' = 'code';
  private tag = '';
  private depth = 0;
  private text = '';
  private lines = 0;
  /** Lines of the statement `line()` last returned. */
  lastLines = 0;

  /** Feeds one line (without its newline); returns the statement it completes (leading comments dropped), else null. */
  line(l: string): string | null {
    if (this.state === 'code' && this.text === '' && /^\s*(--.*)?$/.test(l)) return null;
    this.text += this.text ? `\n${l}` : l;
    this.lines++;
    let last = '';
    for (let i = 0; i < l.length; i++) {
      const c = l[i];
      if (this.state === 'code') {
        if (c === '-' && l[i + 1] === '-') break;
        if (c === '/' && l[i + 1] === '*') {
          this.state = 'block';
          this.depth = 1;
          i++;
        }
        else if (c === '"') this.state = 'dq';
        else if (c === "'") this.state = /[Ee]/.test(l[i - 1] ?? '') && !/[\w$]/.test(l[i - 2] ?? '') ? 'esq' : 'sq';
        else if (c === '$') {
          const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(l.slice(i));
          if (m && !/[\w$]/.test(l[i - 1] ?? '')) {
            this.state = 'dollar';
            this.tag = m[0];
            i += m[0].length - 1;
          }
        }
        if (!/\s/.test(c)) last = c;
      } else if (this.state === 'dq') {
        if (c === '"') this.state = 'code';
      } else if (this.state === 'sq' || this.state === 'esq') {
        if (this.state === 'esq' && c === '\\') i++;
        else if (c === "'") this.state = 'code';
      } else if (this.state === 'dollar') {
        if (l.startsWith(this.tag, i)) {
          this.state = 'code';
          i += this.tag.length - 1;
        }
      } else if (c === '*' && l[i + 1] === '/') {
        if (--this.depth === 0) this.state = 'code';
        i++;
      } else if (c === '/' && l[i + 1] === '*') {
        this.depth++;
        i++;
      }
    }
    if (this.state !== 'code' || last !== ';') return null;
    const done = this.text;
    this.lastLines = this.lines;
    this.text = '';
    this.lines = 0;
    return done;
  }
}
