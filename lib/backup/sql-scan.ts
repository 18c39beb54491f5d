/**
 * The top-level shape of SQL text as PostgreSQL's and psql's lexers see it: string literals ('…',
 * E'…' with backslash escapes), quoted identifiers, dollar quotes and comments (nested block
 * comments too) are skipped; what is left is split into statements at top-level semicolons.
 * Used to check SQL that came from storage before anything runs it (drill dependencies, archive
 * members): how many statements, their top-level words, and any backslash outside quotes (psql
 * would take it for a meta-command such as `\!` — a shell command — under `gunzip | psql`).
 */
export interface SqlScan {
  /** Top-level statements (text without the `;`, trimmed; empty ones dropped). */
  statements: { text: string; words: string[] }[];
  /** Offset of the first backslash outside literals and quoted identifiers (comments included), or -1. */
  backslash: number;
  /** The text ends inside a literal, quoted identifier, dollar quote, comment or parenthesis. */
  unterminated: boolean;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/**
 * Scans `sql` (see SqlScan). `words` are the upper-cased words at parenthesis depth 0, in order.
 * `escapeStrings`: read every '…' literal as an E'…' one (backslash escapes), as psql and the server
 * do once standard_conforming_strings is off.
 */
export function scanSql(sql: string, opts: { escapeStrings?: boolean } = {}): SqlScan {
  const statements: SqlScan['statements'] = [];
  let backslash = -1;
  let depth = 0;
  let start = 0;
  let words: string[] = [];
  const endStatement = (at: number) => {
    const text = sql.slice(start, at).trim();
    if (text) statements.push({ text, words });
    words = [];
    start = at + 1;
  };
  /** Index just past the closing `close` of a literal opened before `from` (-1: unterminated). */
  const skipQuoted = (from: number, close: string, escapes: boolean): number => {
    let j = from;
    let q = sql.indexOf(close, j);
    let b = escapes ? sql.indexOf('\\', j) : -1;
    while (q !== -1) {
      if (b !== -1 && b < q) {
        // A backslash escapes the next character (perhaps the quote).
        j = b + 2;
      } else if (sql[q + 1] === close) {
        j = q + 2;
      } else return q + 1;
      if (q < j) q = sql.indexOf(close, j);
      if (b !== -1 && b < j) b = sql.indexOf('\\', j);
    }
    return -1;
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    let next = i + 1;
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      next = nl === -1 ? sql.length : nl + 1;
      const bs = sql.slice(i, next).indexOf('\\');
      if (bs !== -1 && backslash === -1) backslash = i + bs;
    } else if (c === '/' && sql[i + 1] === '*') {
      let nest = 1;
      let j = i + 2;
      for (; j < sql.length && nest > 0; j++) {
        if (sql[j] === '\\' && backslash === -1) backslash = j;
        const pair = sql.slice(j, j + 2);
        if (pair === '/*' || pair === '*/') {
          nest += pair === '/*' ? 1 : -1;
          j++;
        }
      }
      if (nest > 0) return { statements, backslash, unterminated: true };
      next = j;
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && (opts.escapeStrings === true || (/[Ee]/.test(sql[i - 1] ?? '') && !WORD_CHAR.test(sql[i - 2] ?? '')));
      next = skipQuoted(i + 1, c, escapes);
      if (next === -1) return { statements, backslash, unterminated: true };
    } else if (c === '$' && !WORD_CHAR.test(sql[i - 1] ?? '') && DOLLAR_TAG.test(sql.slice(i, i + 64))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 64))![0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close === -1) return { statements, backslash, unterminated: true };
      next = close + tag.length;
    } else if (WORD_START.test(c) && !WORD_CHAR.test(sql[i - 1] ?? '')) {
      let j = i + 1;
      while (j < sql.length && WORD_CHAR.test(sql[j])) j++;
      // E'…' (and U&'…', B'…', X'…') literals start with a word: leave the quote to the branch above.
      if (depth === 0) words.push(sql.slice(i, j).toUpperCase());
      next = j;
    } else if (c === '\\') {
      if (backslash === -1) backslash = i;
    } else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ';' && depth === 0) endStatement(i);
    i = next;
  }
  endStatement(sql.length);
  return { statements, backslash, unterminated: depth !== 0 };
}
