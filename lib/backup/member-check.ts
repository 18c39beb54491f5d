import { AppError } from '../errors';
import type { Manifest, ManifestEntry, ManifestTable } from './manifest';
import { copyStatement, HEADER_STATEMENTS } from './manifest';
import { scanSql } from './sql-scan';

/**
 * Every archive member checked against its KIND before anything of it is trusted (issue: "nothing
 * read from storage is executed unchecked"). An attacker who can write to the storage can rewrite a
 * member and recompute every checksum; without a signing key only these structural rules stand
 * between the archive and the target database (and the operator's `gunzip | psql`):
 *
 *  - header:       only the SET / set_config statements the writer emits, and `-- ` comment lines.
 *  - sequence-set: only `SELECT pg_catalog.setval('<name>', <integer>, true|false);` statements.
 *  - table-data:   exactly the COPY line of ITS table (built from the manifest's validated name and
 *                  columns), rows, and the `\.` terminator as the last line — no other line starting
 *                  with `\.` (psql would end the COPY there and run what follows as SQL), no raw CR
 *                  (COPY text escapes it; psql would also take `\.\r\n` as the end).
 */

/** Comment lines the header may carry: `-- ` and printable text only (a CR would end the comment in the server's lexer). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const HEADER_COMMENT = /^-- [^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/;

/** One setval per line of a sequence-set member; the literal may hold any character (a name with a newline). */
const SETVAL_MEMBER = /^(?:SELECT pg_catalog\.setval\('(?:[^']|'')*', -?[0-9]{1,20}, (?:true|false)\);\n)*$/;

/** The setval statements of a sequence-set member, each with its (unquoted) sequence name. */
export function setvalStatements(sql: string): { statement: string; sequence: string }[] {
  return [...sql.matchAll(/SELECT pg_catalog\.setval\('((?:[^']|'')*)', -?[0-9]{1,20}, (?:true|false)\);\n/g)].map((x) => ({ statement: x[0], sequence: x[1].replace(/''/g, "'") }));
}

/** Why an SQL member's text is not what its kind allows (null when it is, or the kind has no rule). */
export function sqlMemberProblem(e: Pick<ManifestEntry, 'section'>, text: string): string | null {
  if (e.section === 'header') {
    const bad = text.split('\n').find((line) => line !== '' && !HEADER_STATEMENTS.includes(line) && !HEADER_COMMENT.test(line));
    return bad === undefined ? null : `the header holds a statement a header never has: ${JSON.stringify(bad.slice(0, 80))}`;
  }
  if (e.section === 'sequence-set' && !SETVAL_MEMBER.test(text)) return 'the sequence-set member holds something other than pg_catalog.setval calls';
  if (e.section === 'pre-data' || e.section === 'post-data') return schemaMemberProblem(text);
  return null;
}

/**
 * Schema objects' SQL (pre-data, post-data) is SQL by nature (only BACKUP_SIGNING_KEY authenticates
 * it), but two things never belong in it: a backslash outside literals and quoted identifiers, which
 * psql runs as a meta-command under `gunzip | psql` (`\!` is a shell command on the operator's
 * machine) — looked for as well with every literal read as psql reads it once a statement turned
 * standard_conforming_strings off — and a COPY statement (table data is only ever in table-data
 * members; `COPY … TO PROGRAM` runs a command on the database server).
 */
function schemaMemberProblem(text: string): string | null {
  if (!text.includes('\\') && !/\bcopy\b/i.test(text)) return null;
  for (const escapeStrings of [false, true]) {
    const scan = scanSql(text, { escapeStrings });
    if (scan.backslash !== -1) {
      return `holds a backslash outside quotes (${JSON.stringify(text.slice(scan.backslash, scan.backslash + 24))}): psql would run it as a meta-command (\\! runs a shell command) under gunzip | psql`;
    }
    if (scan.statements.some((st) => st.words[0] === 'COPY')) return 'holds a COPY statement (a schema object never does: table data is in table-data members)';
  }
  return null;
}

/** The manifest table a table-data entry belongs to (by schema and name, and listing the entry). */
export function tableOfDataEntry(m: Manifest, e: ManifestEntry): ManifestTable | undefined {
  return m.tables.find((t) => t.schema === e.schema && t.name === e.name && Array.isArray(t.entries) && t.entries.includes(e.index));
}

const BACKSLASH = 0x5c;
const DOT = 0x2e;
const NL = 0x0a;
const CR = 0x0d;

/**
 * Streams a table-data member and enforces its shape (see above): feed it the member's bytes with
 * `push`, which returns the row bytes to hand to COPY FROM STDIN (the COPY line stripped, the
 * terminator held back); `end()` throws unless the member ended with the one `\.` line. Throws
 * AppError 'corrupt' naming the member as soon as a rule breaks, before the offending bytes are
 * handed out.
 */
export class TableDataScanner {
  private readonly head: Buffer;
  private headBuf: Buffer | null = Buffer.alloc(0);
  /** -1: inside a line; 0: at a line start; 1: at a line start after a backslash. */
  private lineState = 0;
  private dotLine = -1;
  private offset = 0;
  /** A line-start backslash at the end of the previous chunk, held back: it may begin the terminator. */
  private pending: Buffer | null = null;
  private afterTerminator = false;
  /** Newlines after the COPY line. */
  newlines = 0;

  constructor(
    table: Pick<ManifestTable, 'schema' | 'name' | 'columns'>,
    private readonly what: string,
  ) {
    this.head = Buffer.from(`${copyStatement(table.schema, table.name, table.columns)}\n`, 'utf8');
  }

  /** Rows the member holds (lines between the COPY line and the terminator); valid after end(). */
  get rows(): number {
    return this.newlines - 1;
  }

  push(chunk: Buffer): Buffer[] {
    let c = chunk;
    if (this.headBuf) {
      this.headBuf = Buffer.concat([this.headBuf, c]);
      if (this.headBuf.length < this.head.length) {
        if (!this.head.subarray(0, this.headBuf.length).equals(this.headBuf)) this.fail('does not start with the COPY line of its table');
        return [];
      }
      if (!this.headBuf.subarray(0, this.head.length).equals(this.head)) this.fail('does not start with the COPY line of its table');
      c = this.headBuf.subarray(this.head.length);
      this.headBuf = null;
    }
    if (c.indexOf(CR) !== -1) this.fail('holds a raw carriage return (COPY text never does)');
    if (c.length === 0) return [];
    const start = this.offset;
    this.scan(c);
    // Never handed out: the `\.` line and anything after it (the terminator must not reach the
    // server), and a backslash at the very end that starts a line (it may begin the terminator).
    // Everything else goes out as the chunk itself, not a copy: the common case is [c].
    const holdFrom = this.dotLine !== -1 ? this.dotLine : this.lineState === 1 ? this.offset - 1 : this.offset;
    const out: Buffer[] = [];
    if (this.pending) {
      const at = start - this.pending.length;
      if (at < holdFrom) out.push(this.pending.subarray(0, holdFrom - at));
      this.pending = null;
    }
    const upTo = Math.min(c.length, holdFrom - start);
    if (upTo > 0) out.push(upTo === c.length ? c : c.subarray(0, upTo));
    if (this.dotLine === -1 && this.lineState === 1) this.pending = c.subarray(c.length - 1);
    return out;
  }

  end(): void {
    if (this.headBuf) this.fail('has no complete COPY line');
    // The `\.` line is the last one and holds nothing else: it starts 3 bytes before the end, which is a newline.
    if (this.dotLine === -1 || this.dotLine !== this.offset - 3 || this.lineState !== 0) this.fail('does not end with the COPY terminator \\. as its last line');
  }

  private scan(c: Buffer): void {
    let i = 0;
    while (i < c.length) {
      if (this.afterTerminator) this.fail('has data after its \\. terminator (it would run as SQL in psql)');
      if (this.lineState === 0) {
        this.lineState = c[i] === BACKSLASH ? 1 : -1;
        if (this.lineState === 1) i++;
        continue;
      }
      if (this.lineState === 1) {
        if (c[i] === DOT) {
          if (this.dotLine !== -1) this.fail('has a \\. line before its end (what follows would run as SQL in psql)');
          this.dotLine = this.offset + i - 1;
        }
        this.lineState = -1;
        continue;
      }
      const nl = c.indexOf(NL, i);
      if (nl === -1) break;
      if (this.dotLine !== -1) this.afterTerminator = true;
      this.newlines++;
      this.lineState = 0;
      i = nl + 1;
    }
    this.offset += c.length;
  }

  private fail(why: string): never {
    throw new AppError('corrupt', `${this.what}: ${why}`);
  }
}
