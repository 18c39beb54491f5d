import { needsFormulaGuard } from './csv-formula-guard';

/**
 * What the export does to a column's cells on their way from COPY to the user:
 * - 'plain': nothing (numbers, uuid, jsonb, booleans already mapped in SQL ...);
 * - 'guard': text; a cell a spreadsheet would evaluate gets a leading `'` (csv-formula-guard.ts);
 * - 'tstz' / 'ts': the SELECT sends the JSON text of the timestamp (`to_json(c)`, unquoted:
 *   `2025-03-01T08:00:00.12+03:00`, cheap for the backend), already the ISO 8601 the export wants
 *   in all but rare cases, fixed here: infinite values become NULL, an offset's seconds are
 *   dropped, the BC marker goes; so the cell is exactly what `to_char(c, 'YYYY-MM-DD"T"HH24:MI:SS')`
 *   + the trimmed fraction + `to_char(c, 'TZH:TZM')` would give.
 *
 * Doing this here instead of in the COPY's SELECT moves it off the database backend (one core,
 * already busy formatting every row) onto the app's thread, which otherwise mostly waits:
 * `npm run bench:export`.
 */
export type CellKind = 'plain' | 'guard' | 'tstz' | 'ts';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const COLON = 0x3a;
const PLUS = 0x2b;
const MINUS = 0x2d;
const T = 0x54;
const APOSTROPHE = Buffer.from("'");
const QUOTE_APOSTROPHE = Buffer.from(`"'`);
const EMPTY = Buffer.alloc(0);

/** First byte of a cell that may make it a formula: = @ tab CR + - (the guard decides on the whole cell). */
function mayBeFormula(b: number): boolean {
  return b === 0x3d || b === 0x40 || b === 0x09 || b === 0x0d || b === PLUS || b === MINUS;
}

/** The text of a CSV field as written by COPY (quoted: quotes stripped, "" → "). */
function fieldValue(raw: Buffer): string {
  if (raw.length > 0 && raw[0] === QUOTE) return raw.toString('utf8', 1, raw.length - 1).replaceAll('""', '"');
  return raw.toString('utf8');
}

/**
 * The rare timestamp cases, on to_json's text (`YYYY-MM-DDTHH:MM:SS[.f][±HH:MM[:SS]][ BC]`,
 * `infinity`): NULL for infinite values, no BC marker, the offset without its seconds.
 */
function timestampSlow(text: string, withOffset: boolean): string | null {
  if (text === 'infinity' || text === '-infinity') return null;
  const core = text.endsWith(' BC') ? text.slice(0, -3) : text;
  if (!withOffset) return core;
  const t = core.indexOf('T');
  const k = core.slice(t).search(/[+-]/);
  if (k < 0) return core;
  const [hh, mm] = core.slice(t + k + 1).split(':');
  return `${core.slice(0, t + k + 1)}${hh}:${mm ?? '00'}`;
}

/**
 * Rewrites the cells of a CSV stream (PostgreSQL's COPY … FORMAT csv, HEADER output: `,`, `"`,
 * LF rows) by column kind; the header row passes unchanged. Feed chunks with push(), then end().
 */
export class CsvCellRewriter {
  private pending: Buffer = EMPTY;
  private col = 0;
  private header = true;
  private readonly kinds: CellKind[];
  private readonly plainOnly: boolean;

  constructor(kinds: CellKind[]) {
    this.kinds = kinds;
    this.plainOnly = kinds.every((k) => k === 'plain');
  }

  /** Output for `chunk` (bytes of an incomplete last field are held back until the next call). */
  push(chunk: Buffer): Buffer {
    if (this.plainOnly) return chunk;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    return this.scan(buf, false);
  }

  /** The rest, at the end of the stream. */
  end(): Buffer {
    if (this.plainOnly || this.pending.length === 0) return EMPTY;
    return this.scan(this.pending, true);
  }

  private scan(buf: Buffer, final: boolean): Buffer {
    const parts: Buffer[] = [];
    const n = buf.length;
    let last = 0; // bytes before `last` are in parts
    let p = 0; // start of the current field
    const kinds = this.kinds;
    const ncol = kinds.length;
    while (p < n) {
      // Find the end `e` of the field starting at p (exclusive), and the delimiter after it.
      let e: number;
      if (buf[p] === QUOTE) {
        let q = p + 1;
        for (;;) {
          const i = buf.indexOf(QUOTE, q);
          if (i < 0) {
            e = -1;
            break;
          }
          if (i + 1 < n && buf[i + 1] === QUOTE) {
            q = i + 2;
            continue;
          }
          if (i + 1 >= n && !final) {
            e = -1; // can't tell "" from the closing quote yet
            break;
          }
          e = i + 1;
          break;
        }
      } else {
        e = p;
        while (e < n) {
          const b = buf[e];
          if (b === COMMA || b === LF) break;
          e++;
        }
        if (e >= n && !final) e = -1;
      }
      if (e < 0 || (e >= n && !final)) break; // incomplete: keep from p
      const kind = this.header ? 'plain' : kinds[this.col];
      if (kind !== 'plain' && e > p) {
        const rep = this.rewrite(buf, p, e, kind);
        if (rep !== undefined) {
          parts.push(buf.subarray(last, p));
          for (const r of rep) parts.push(r);
          last = e;
        }
      }
      // The delimiter.
      if (e < n && buf[e] === LF) {
        this.col = 0;
        this.header = false;
      } else {
        this.col = this.col + 1 < ncol ? this.col + 1 : this.col;
      }
      p = e + 1;
    }
    if (p < n) {
      this.pending = Buffer.from(buf.subarray(Math.max(p, last)));
      // Bytes before p that were not rewritten are output now.
      parts.push(buf.subarray(last, Math.max(p, last)));
    } else {
      this.pending = EMPTY;
      parts.push(buf.subarray(last, n));
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Replacement bytes for the field buf[s, e) (non-empty: NULL is empty and stays so), or undefined: unchanged. */
  private rewrite(buf: Buffer, s: number, e: number, kind: CellKind): Buffer[] | undefined {
    if (kind === 'guard') {
      const quoted = buf[s] === QUOTE;
      const first = quoted ? (s + 1 < e - 1 ? buf[s + 1] : -1) : buf[s];
      if (first < 0 || !mayBeFormula(first)) return undefined;
      if (!needsFormulaGuard(fieldValue(buf.subarray(s, e)))) return undefined;
      return quoted ? [QUOTE_APOSTROPHE, buf.subarray(s + 1, e)] : [APOSTROPHE, buf.subarray(s, e)];
    }
    // Fast path, nearly every cell: 'YYYY-MM-DDTHH:MM:SS[.ffffff]' then, for tstz, '+HH:MM': as is.
    if (e - s >= 19 && buf[s + 10] === T && buf[s + 4] === MINUS) {
      const last = buf[e - 1];
      if (kind === 'ts' ? last >= 0x30 && last <= 0x39 : (buf[e - 6] === PLUS || buf[e - 6] === MINUS) && buf[e - 3] === COLON) return undefined;
    }
    const out = timestampSlow(buf.toString('latin1', s, e), kind === 'tstz');
    return [out === null ? EMPTY : Buffer.from(out, 'latin1')];
  }
}
