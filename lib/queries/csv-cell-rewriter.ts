import { needsFormulaGuard } from './csv-formula-guard';

/**
 * What the export does to a column's cells on their way from COPY to the user:
 * - 'plain': nothing (numbers, uuid, jsonb, booleans already mapped in SQL ...);
 * - 'guard': text; a cell a spreadsheet would evaluate gets a leading `'` (csv-formula-guard.ts);
 * - 'tstz' / 'ts': COPY sends the timestamp as PostgreSQL prints it with DateStyle ISO
 *   (`2025-03-01 08:00:00.12+03`, the cheapest form for the backend); written here as ISO 8601:
 *   `T` between date and time, the offset as `+HH:MM`; infinite values become NULL, an offset's
 *   seconds are dropped, the BC marker goes. So the cell is exactly what
 *   `to_char(c, 'YYYY-MM-DD"T"HH24:MI:SS')` + the trimmed fraction + `to_char(c, 'TZH:TZM')` gives.
 *
 * Doing this here instead of in the COPY's SELECT moves it off the database backend (one core,
 * already busy formatting every row) onto the app's thread: `npm run bench:export`.
 */
export type CellKind = 'plain' | 'guard' | 'tstz' | 'ts';

/** One exported column: how its cells are rewritten, and whether COPY can quote them. */
export interface CsvColumn {
  kind: CellKind;
  /**
   * False only when COPY never quotes the column's text (numbers, uuid, booleans, dates,
   * timestamps: no comma, quote or newline in it); the rewriter then finds such cells at the end
   * of a row by looking backwards, without reading the columns before them. True when unsure.
   */
  quotable: boolean;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const COLON = 0x3a;
const SPACE = 0x20;
const PLUS = 0x2b;
const MINUS = 0x2d;
const APOSTROPHE = 0x27;
const T = 0x54;
const ZERO = 0x30;
const NINE = 0x39;

/** First byte of a cell that may make it a formula: = @ tab CR + - (the guard decides on the whole cell). */
function mayBeFormula(b: number): boolean {
  return b === 0x3d || b === 0x40 || b === 0x09 || b === 0x0d || b === PLUS || b === MINUS;
}

/** The text of a CSV field as written by COPY (quoted: quotes stripped, "" → "). */
function fieldValue(src: Buffer, a: number, b: number): string {
  if (src[a] === QUOTE) return src.toString('utf8', a + 1, b - 1).replaceAll('""', '"');
  return src.toString('utf8', a, b);
}

/**
 * The rare timestamp cases, on PostgreSQL's ISO text (`YYYY-MM-DD HH:MM:SS[.f][±HH[:MM[:SS]]][ BC]`,
 * `infinity`): NULL for infinite values, `T` between date and time, no BC marker, the offset as
 * ±HH:MM without its seconds.
 */
export function timestampSlow(text: string, withOffset: boolean): string | null {
  if (text === 'infinity' || text === '-infinity') return null;
  const core = (text.endsWith(' BC') ? text.slice(0, -3) : text).replace(' ', 'T');
  if (!withOffset) return core;
  const t = core.indexOf('T');
  const k = core.slice(t).search(/[+-]/);
  if (k < 0) return core;
  const [hh, mm] = core.slice(t + k + 1).split(':');
  return `${core.slice(0, t + k + 1)}${hh}:${mm ?? '00'}`;
}

/**
 * Where the rewritten rows go: fixed-size buffers, handed to `flush` when full (and by emit()),
 * so the stream downstream sees a few large chunks instead of one per row.
 */
export class ChunkWriter {
  buf: Buffer;
  /** Bytes of `buf` in use. */
  o = 0;
  private readonly size: number;
  private readonly flush: (chunk: Buffer) => void;

  constructor(size: number, flush: (chunk: Buffer) => void) {
    this.size = size;
    this.flush = flush;
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `n` more bytes (hands the full buffer on first). */
  reserve(n: number): void {
    if (this.o + n <= this.buf.length) return;
    this.emit();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** Hands on what is buffered (if anything) and starts a new buffer. */
  emit(): void {
    if (this.o === 0) return;
    this.flush(this.buf.subarray(0, this.o));
    this.buf = Buffer.allocUnsafe(this.size);
    this.o = 0;
  }

  /** Appends src[from, to). */
  copy(src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n > 24) {
      src.copy(this.buf, this.o, from, to);
    } else {
      const buf = this.buf;
      const o = this.o - from;
      for (let i = from; i < to; i++) buf[o + i] = src[i];
    }
    this.o += n;
  }
}

// Edit kinds (how one cell of a row changes).
const E_APOSTROPHE = 1; // insert ' at `a`
const E_TS = 2; // cell [a, b): copy, the byte at a+10 becomes T
const E_TSTZ_HOURS = 3; // as E_TS, then ':00' after the cell (offset ±HH → ±HH:00)
const E_REPLACE = 4; // cell [a, b) becomes `rep`

/**
 * Rewrites the rows of PostgreSQL's COPY … (FORMAT csv, HEADER) output (`,`, `"`, LF rows) by
 * column kind; the first row (the header) passes unchanged. COPY sends every row as one
 * protocol message (copy-out-csv.ts), so a row arrives whole: the rewriter steps over cells
 * with indexOf instead of reading every byte, skips the columns after the last one it must see,
 * and finds never-quoted cells at the row's end from the back (activity_logs: the text columns
 * from the front, created_at from the back, the jsonb between them not read at all).
 */
export class CsvRowRewriter {
  private header = true;
  private readonly kinds: Uint8Array;
  private readonly plainOnly: boolean;
  /** Last column read from the front (-1: none). */
  private readonly fwdLast: number;
  /** First column read from the back (ncol: none); every column from here on is never quoted. */
  private readonly backFirst: number;
  private readonly ncol: number;
  // The current row's edits, in row order (front part), and from the back part in reverse order.
  private readonly eKind: Uint8Array;
  private readonly eA: Int32Array;
  private readonly eB: Int32Array;
  private readonly eRep: (Buffer | undefined)[];
  private nEdits = 0;

  constructor(columns: CsvColumn[]) {
    const code = { plain: 0, guard: 1, tstz: 2, ts: 3 } as const;
    this.ncol = columns.length;
    this.kinds = Uint8Array.from(columns.map((c) => code[c.kind]));
    this.plainOnly = columns.every((c) => c.kind === 'plain');
    let tail = columns.length;
    while (tail > 0 && !columns[tail - 1].quotable) tail--;
    let fwdLast = -1;
    for (let i = 0; i < tail; i++) if (columns[i].kind !== 'plain') fwdLast = i;
    let backFirst = columns.length;
    for (let i = columns.length - 1; i >= tail; i--) if (columns[i].kind !== 'plain') backFirst = i;
    this.fwdLast = fwdLast;
    this.backFirst = backFirst;
    this.eKind = new Uint8Array(columns.length);
    this.eA = new Int32Array(columns.length);
    this.eB = new Int32Array(columns.length);
    this.eRep = new Array<Buffer | undefined>(columns.length);
  }

  /** Writes the row src[s, end) (one whole CSV row, its LF last) to `w`, rewritten. */
  row(src: Buffer, s: number, end: number, w: ChunkWriter): void {
    const e = end - 1;
    if (end <= s || src[e] !== LF) throw new Error('COPY sent a row that does not end with a newline');
    if (this.header || this.plainOnly) {
      this.header = false;
      w.reserve(end - s);
      w.copy(src, s, end);
      return;
    }
    this.nEdits = 0;
    const kinds = this.kinds;
    // Front: cell by cell up to the last column that needs a look.
    let p = s;
    for (let c = 0; c <= this.fwdLast; c++) {
      let q: number;
      if (src[p] === QUOTE) {
        q = p + 1;
        for (;;) {
          q = src.indexOf(QUOTE, q);
          if (q < 0 || q >= e) throw new Error('COPY sent a row with an unterminated quoted cell');
          if (src[q + 1] !== QUOTE) break;
          q += 2;
        }
        q++;
      } else {
        q = src.indexOf(COMMA, p);
        if (q < 0 || q > e) q = e;
      }
      const k = kinds[c];
      if (k !== 0 && q > p) this.cell(src, p, q, k);
      if (q >= e && c < this.ncol - 1) throw new Error(`COPY sent a row with ${c + 1} cells, expected ${this.ncol}`);
      p = q + 1;
    }
    const front = this.nEdits;
    // Back: the never-quoted cells at the row's end, last column first.
    let q = e;
    for (let c = this.ncol - 1; c >= this.backFirst; c--) {
      const comma = src.lastIndexOf(COMMA, q - 1);
      let a: number;
      if (comma >= s) a = comma + 1;
      else if (c === 0) a = s;
      else throw new Error(`COPY sent a row with fewer than ${this.ncol} cells`);
      if (a < q) {
        if (src[a] === QUOTE) throw new Error('COPY quoted a cell of a column the export reads as never quoted');
        if (kinds[c] !== 0) this.cell(src, a, q, kinds[c]);
      }
      q = a - 1;
    }
    this.emitRow(src, s, end, front, w);
  }

  /** Records the edit for the non-empty cell src[a, b) of kind k (1 guard, 2 tstz, 3 ts), if any. */
  private cell(src: Buffer, a: number, b: number, k: number): void {
    const i = this.nEdits;
    if (k === 1) {
      const quoted = src[a] === QUOTE;
      if (quoted && b - a <= 2) return;
      if (!mayBeFormula(src[quoted ? a + 1 : a])) return;
      if (!needsFormulaGuard(fieldValue(src, a, b))) return;
      this.eKind[i] = E_APOSTROPHE;
      this.eA[i] = quoted ? a + 1 : a;
    } else {
      this.eA[i] = a;
      this.eB[i] = b;
      // Nearly every cell: 'YYYY-MM-DD HH:MM:SS[.ffffff]' then, for tstz, '+HH' or '+HH:MM'.
      let fast = 0;
      if (b - a >= 19 && src[a + 10] === SPACE && src[a + 4] === MINUS) {
        if (k === 3) {
          const last = src[b - 1];
          if (last >= ZERO && last <= NINE) fast = E_TS;
        } else {
          const h = src[b - 3];
          if (h === PLUS || h === MINUS) fast = E_TSTZ_HOURS;
          else if (h === COLON && (src[b - 6] === PLUS || src[b - 6] === MINUS)) fast = E_TS;
        }
      }
      if (fast !== 0) {
        this.eKind[i] = fast;
      } else {
        const out = timestampSlow(src.toString('latin1', a, b), k === 2);
        this.eKind[i] = E_REPLACE;
        this.eRep[i] = out === null ? Buffer.alloc(0) : Buffer.from(out, 'latin1');
      }
    }
    this.nEdits = i + 1;
  }

  /** Writes src[s, end) with the recorded edits: [0, front) in row order, then [front, nEdits) reversed. */
  private emitRow(src: Buffer, s: number, end: number, front: number, w: ChunkWriter): void {
    const n = this.nEdits;
    w.reserve(end - s + 3 * n);
    let from = s;
    for (let j = 0; j < n; j++) {
      const i = j < front ? j : n - 1 - (j - front);
      const kind = this.eKind[i];
      const a = this.eA[i];
      if (kind === E_APOSTROPHE) {
        w.copy(src, from, a);
        w.buf[w.o++] = APOSTROPHE;
        from = a;
      } else if (kind === E_REPLACE) {
        w.copy(src, from, a);
        const rep = this.eRep[i]!;
        this.eRep[i] = undefined;
        w.copy(rep, 0, rep.length);
        from = this.eB[i];
      } else {
        const b = this.eB[i];
        w.copy(src, from, b);
        w.buf[w.o - (b - a) + 10] = T;
        if (kind === E_TSTZ_HOURS) {
          w.buf[w.o++] = COLON;
          w.buf[w.o++] = ZERO;
          w.buf[w.o++] = ZERO;
        }
        from = b;
      }
    }
    w.copy(src, from, end);
  }
}
