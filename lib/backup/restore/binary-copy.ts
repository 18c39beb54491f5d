import type pg from 'pg';

/**
 * COPY text rows → COPY BINARY rows, in our process, for the atomic and the `--jobs` restore.
 *
 * Why: a server backend spends about a third of a typical table's COPY time parsing text (line
 * splitting, de-escaping, timestamptz_in, uuid_in, int8in); its binary receive functions mostly
 * copy bytes (measured on 2,000,000 activity-log rows: 5.2-5.4 s as text, 3.6-3.8 s as binary,
 * server-side COPY from a file after a CHECKPOINT; 400,000 of them: 1.69 vs 1.16 s of backend CPU).
 * The atomic restore's one backend is its bottleneck while this process has a core to spare; in
 * `--jobs` both cores are busy, and the conversion pays because it costs less than it saves: 0.31-
 * 0.35 s for those 400,000 rows (121 MB of text) since text values are copied with copyWithin
 * inside one work memory (0.54-0.57 s with a byte loop, when it did not pay).
 *
 * Exactness: only column types whose binary form is a plain re-encoding of their text form under
 * the backup's output settings (session-settings.ts: DateStyle ISO, TimeZone UTC) are converted:
 * bool, int2, int4, int8, numeric, text, varchar, json, jsonb, bytea (hex), uuid, date, timestamp, timestamptz,
 * inet.
 * Every value is parsed strictly; anything else — a form PostgreSQL would not print, a field count
 * that differs, an offset other than +00 — stops the conversion at that row and the rest of the
 * member goes to the server as text (a second COPY into the same table in the same transaction:
 * the server then parses it, and rejects it with its own message if it is wrong). The test
 * (binary-copy.test.ts) compares this converter's output with the server's own
 * `COPY … TO STDOUT (FORMAT binary)` byte for byte over edge and random values of every type.
 */

/** Type OIDs (stable: pg_type.dat) this converter handles. */
const OID = { bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, text: 25, json: 114, inet: 869, varchar: 1043, date: 1082, timestamp: 1114, timestamptz: 1184, numeric: 1700, uuid: 2950, jsonb: 3802 } as const;

type Kind = keyof typeof OID;
const KIND_BY_OID = new Map<number, Kind>(Object.entries(OID).map(([k, v]) => [v, k as Kind]));

/** The kinds of `columns` (in order) of `schema.table` on the target, or null when any column's type is not convertible. */
export async function binaryColumnKinds(client: pg.ClientBase, schema: string, table: string, columns: string[]): Promise<Kind[] | null> {
  const r = await client.query<{ attname: string; atttypid: number }>(
    `SELECT a.attname, a.atttypid::int AS atttypid FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema, table],
  );
  const byName = new Map(r.rows.map((x) => [x.attname, x.atttypid]));
  const kinds: Kind[] = [];
  for (const c of columns) {
    const k = KIND_BY_OID.get(byName.get(c) ?? -1);
    if (!k) return null;
    kinds.push(k);
  }
  return kinds.length ? kinds : null;
}

/** The COPY BINARY file header (signature, flags 0, header extension length 0). */
export const BINARY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The COPY BINARY trailer (a field count of -1). */
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const TAB = 9;
const NL = 10;
const BS = 92;
const OUT_CHUNK = 256 * 1024;
/**
 * A row longer than this (text, newline included) stops the conversion: the rest of the member goes
 * as text, streamed. Converting it would hold the whole row two or three times (its pieces, joined,
 * and its binary form) where the text COPY holds one piece of it.
 */
const MAX_LINE = 1 << 20;
/** Days from 0000-03-01 (proleptic Gregorian) to 2000-01-01, for daysFromCivil. */
const POSTGRES_EPOCH_DAYS = 10957;
const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
const USECS_PER_DAY = 86_400_000_000n;
/**
 * The values PostgreSQL stores (datatype/timestamp.h): dates 4714-11-24 BC to 5874897-12-31,
 * timestamps 4714-11-24 00:00:00 BC to 294276-12-31 23:59:59.999999 (days and microseconds since
 * 2000-01-01). Outside, its text input refuses the value while its binary receive would take a
 * 32/64-bit word that wrapped around (another date, or infinity): such a value goes as text.
 */
const DATE_MIN_DAYS = -2_451_545;
const DATE_END_DAYS = 2_147_483_494 - 2_451_545;
const TIMESTAMP_MIN = -211_813_488_000_000_000n;
const TIMESTAMP_END = 9_223_371_331_200_000_000n;

const TEXT_KINDS: Record<Kind, boolean> = { text: true, varchar: true, json: true, jsonb: true, bool: false, bytea: false, int2: false, int4: false, int8: false, numeric: false, uuid: false, date: false, timestamp: false, timestamptz: false, inet: false };
/** numeric's limits (utils/adt/numeric.c): digits before the point, digits after it (the display scale). */
const NUMERIC_MAX_INT_DIGITS = 131072;
const NUMERIC_MAX_DSCALE = 0x3fff;
const NUMERIC_NEG = 0x4000;

/** A value this converter does not handle: the caller sends the rest of the member as text. */
class Unconvertible extends Error {}
const NOPE = new Unconvertible('unconvertible');

/**
 * Converts whole COPY text lines (each ending in '\n', no terminator line) to binary rows. Feed
 * chunks with `push`; it returns the binary bytes ready so far. When a line cannot be converted,
 * `stopped` becomes true and `rest` holds that line and everything after it (text, to be sent
 * by a text COPY); further pushes only append to `rest`.
 */
export class TextToBinary {
  /**
   * Work memory: the input at [0, inEnd) (a partial line carried over from the last chunk, then the
   * new chunk) and the binary output at [outBase, op). Input and output share one memory so that a
   * text value is copied with copyWithin: Buffer.copy or set(subarray) allocate a view per value
   * (~100 ns each), a byte loop costs ~2.5 ns a byte (measured on Node 20).
   */
  private out: Buffer;
  private outBase: number;
  private op: number;
  private inEnd = 0;
  /** Bytes of a partial last line kept at the start of the input. */
  private carryLength = 0;
  /** The next backslash in the input at or after the field being read (inEnd: none; -1: not looked for yet). */
  private bsAt = -1;
  /** Per column: 0 a text kind, 1 jsonb, 2 any other (converted by field()). */
  private readonly codes: Uint8Array;
  /** Rows converted. */
  rows = 0;
  stopped = false;
  /** Text not converted (from the first unconvertible line on). */
  rest: Buffer[] = [];

  constructor(private readonly kinds: readonly Kind[]) {
    this.codes = Uint8Array.from(kinds, (k) => (k === 'jsonb' ? 1 : TEXT_KINDS[k] ? 0 : 2));
    this.outBase = OUT_CHUNK;
    this.out = Buffer.allocUnsafeSlow(2 * OUT_CHUNK);
    this.op = this.outBase;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.stopped) {
      this.rest.push(chunk);
      return [];
    }
    const ready: Buffer[] = [];
    const inEnd = this.carryLength + chunk.length;
    if (inEnd > this.outBase) this.grow(inEnd, 0, ready);
    chunk.copy(this.out, this.carryLength);
    this.inEnd = inEnd;
    this.bsAt = -1;
    let s = 0;
    while (s < inEnd) {
      let nl = this.out.indexOf(NL, s);
      if (nl >= inEnd) nl = -1; // (a byte of the output region)
      if (nl === -1 ? inEnd - s > MAX_LINE : nl + 1 - s > MAX_LINE) return this.stop(s, ready);
      if (nl === -1) {
        if (s > 0) this.out.copyWithin(0, s, inEnd);
        this.carryLength = inEnd - s;
        return this.flushOut(ready);
      }
      // Room for the worst case: the field count, then per field its length word and a value at
      // most 20 bytes longer than its text ('::' → 20-byte inet; '1' → 8-byte int8; jsonb +1).
      const worst = 2 + (nl - s) + this.kinds.length * 24;
      if (this.op + worst > this.out.length) {
        this.flushOut(ready);
        if (this.outBase + worst > this.out.length) this.grow(this.outBase, worst, ready);
      }
      const mark = this.op;
      try {
        this.line(this.out, s, nl);
      } catch (err) {
        if (!(err instanceof Unconvertible)) throw err;
        this.op = mark;
        return this.stop(s, ready);
      }
      // (Typed-array writes past the end are silently dropped: never let that happen unseen.)
      if (this.op > this.out.length) throw new Error('binary COPY conversion overran its buffer');
      this.rows++;
      s = nl + 1;
    }
    this.carryLength = 0;
    return this.flushOut(ready);
  }

  /** A work memory with room for `inNeed` input and `outNeed` output bytes; keeps the input, hands the output to `ready`. */
  private grow(inNeed: number, outNeed: number, ready: Buffer[]): void {
    this.flushOut(ready);
    const inCap = Math.max(this.outBase, inNeed);
    const w = Buffer.allocUnsafeSlow(inCap + Math.max(OUT_CHUNK, outNeed, this.out.length - this.outBase));
    this.out.copy(w, 0, 0, Math.max(this.carryLength, this.inEnd));
    this.out = w;
    this.outBase = inCap;
    this.op = inCap;
    this.bsAt = -1;
  }

  /** Stops converting at input offset s: that line and everything after it goes as text. */
  private stop(s: number, ready: Buffer[]): Buffer[] {
    this.stopped = true;
    if (this.inEnd > s) this.rest.push(Buffer.from(this.out.subarray(s, this.inEnd)));
    this.carryLength = 0;
    this.inEnd = 0;
    return this.flushOut(ready);
  }

  private flushOut(ready: Buffer[]): Buffer[] {
    if (this.op > this.outBase) {
      ready.push(Buffer.from(this.out.subarray(this.outBase, this.op)));
      this.op = this.outBase;
    }
    return ready;
  }

  /** Call at the end of the member: a partial last line (no newline) is not a row: hand it to the text COPY. */
  end(): void {
    if (this.carryLength) {
      this.inEnd = this.carryLength;
      this.stop(0, []);
    }
  }

  private line(b: Buffer, s: number, e: number): void {
    const o = this.out;
    const codes = this.codes;
    const n = codes.length;
    o[this.op] = (n >>> 8) & 255;
    o[this.op + 1] = n & 255;
    this.op += 2;
    let f = s;
    for (let k = 0; k < n; k++) {
      let t: number;
      if (b[f] === BS && b[f + 1] === 78 /* N */ && (f + 2 === e || b[f + 2] === TAB)) {
        t = f + 2;
        this.w32(-1);
      } else {
        t = b.indexOf(TAB, f);
        if (t === -1 || t > e) t = e;
        const code = codes[k];
        if (code === 2) this.field(this.kinds[k], b, f, t);
        else this.text(b, f, t, code === 1);
      }
      if (t === e ? k !== n - 1 : k === n - 1) throw NOPE; // too few or too many fields
      f = t + 1;
    }
  }

  /**
   * A text value b[f..t) (no tab in it), copied and de-escaped as COPY FROM text does (jsonb:
   * after its version byte 1). b is the work memory (line() passes it), so a value without a
   * backslash is copied within it.
   */
  private text(b: Buffer, f: number, t: number, jsonb: boolean): void {
    const o = this.out;
    const lenAt = this.op;
    let p = lenAt + 4;
    if (jsonb) o[p++] = 1;
    if (this.bsAt < f) {
      const x = b.indexOf(BS, f);
      this.bsAt = x === -1 || x >= this.inEnd ? this.inEnd : x;
    }
    if (this.bsAt < t) p = unescapeInto(b, f, t, o, p);
    else if (t - f > 8) {
      o.copyWithin(p, f, t);
      p += t - f;
    } else for (let i = f; i < t; i++) o[p++] = b[i];
    const len = p - lenAt - 4;
    o[lenAt] = (len >>> 24) & 255;
    o[lenAt + 1] = (len >>> 16) & 255;
    o[lenAt + 2] = (len >>> 8) & 255;
    o[lenAt + 3] = len & 255;
    this.op = p;
  }

  private w32(v: number): void {
    const o = this.out;
    const p = this.op;
    o[p] = (v >>> 24) & 255;
    o[p + 1] = (v >>> 16) & 255;
    o[p + 2] = (v >>> 8) & 255;
    o[p + 3] = v & 255;
    this.op = p + 4;
  }

  /** A 64-bit two's-complement integer given as a safe integer Number. */
  private w64(v: number): void {
    const hi = Math.floor(v / 4294967296);
    this.w32(hi | 0);
    this.w32((v - hi * 4294967296) >>> 0);
  }

  private w64big(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.w32(Number(u >> 32n) | 0);
    this.w32(Number(u & 0xffffffffn) | 0);
  }

  private field(kind: Kind, b: Buffer, f: number, t: number): void {
    switch (kind) {
      case 'text':
      case 'varchar':
      case 'json':
      case 'jsonb':
        throw new Error('text kinds are converted by text()');
      case 'int8':
        return this.int8(b, f, t);
      case 'int4': {
        const v = parseSmallInt(b, f, t);
        if (v > INT32_MAX || v < INT32_MIN) throw NOPE;
        this.w32(4);
        return this.w32(v);
      }
      case 'int2': {
        const v = parseSmallInt(b, f, t);
        if (v > 32767 || v < -32768) throw NOPE;
        this.w32(2);
        this.out[this.op] = (v >>> 8) & 255;
        this.out[this.op + 1] = v & 255;
        this.op += 2;
        return;
      }
      case 'bool':
        if (t - f !== 1 || (b[f] !== 116 && b[f] !== 102)) throw NOPE;
        this.w32(1);
        this.out[this.op++] = b[f] === 116 ? 1 : 0;
        return;
      case 'uuid':
        return this.uuid(b, f, t);
      case 'date':
        return this.date(b, f, t);
      case 'timestamp':
        return this.timestamp(b, f, t, false);
      case 'timestamptz':
        return this.timestamp(b, f, t, true);
      case 'inet':
        return this.inet(b, f, t);
      case 'numeric':
        return this.numeric(b, f, t);
      case 'bytea':
        return this.bytea(b, f, t);
    }
  }

  private w16(v: number): void {
    this.out[this.op] = (v >>> 8) & 255;
    this.out[this.op + 1] = v & 255;
    this.op += 2;
  }

  /**
   * numeric as PostgreSQL prints it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?` (no exponent, as many fraction
   * digits as the display scale), or NaN. Sent as numeric_send does: base-10000 digits without
   * leading or trailing zero groups, their weight, the sign and the display scale (numeric_recv then
   * applies the column's typmod exactly as numeric_in does). A zero is sent with weight 0 and a
   * positive sign; '-0' (never printed), Infinity and anything else go to the server as text.
   */
  private numeric(b: Buffer, f: number, t: number): void {
    if (isWord(b, f, t, 'NaN')) return (this.w32(8), this.w16(0), this.w16(0), this.w16(0xc000), this.w16(0));
    let i = f;
    const neg = b[i] === 45;
    if (neg) i++;
    const intStart = i;
    while (i < t && b[i] >= 48 && b[i] <= 57) i++;
    const li = i - intStart;
    if (li < 1 || li > NUMERIC_MAX_INT_DIGITS || (li > 1 && b[intStart] === 48)) throw NOPE;
    const fracStart = i + 1;
    if (i < t) {
      if (b[i] !== 46) throw NOPE;
      i++;
      while (i < t && b[i] >= 48 && b[i] <= 57) i++;
      if (i !== t || i === fracStart) throw NOPE;
    }
    const lf = i === t && t > intStart + li ? t - fracStart : 0;
    if (lf > NUMERIC_MAX_DSCALE) throw NOPE;
    const o = this.out;
    const head = this.op + 4;
    let p = head + 8;
    const intGroups = Math.ceil(li / 4);
    let weight = intGroups - 1;
    let nd = 0;
    let kept = 0; // digits up to the last non-zero one
    let k = intStart;
    const groups = intGroups + Math.ceil(lf / 4);
    for (let g = 0; g < groups; g++) {
      let v = 0;
      if (g < intGroups) {
        for (let e = g === 0 ? intStart + li - (intGroups - 1) * 4 : k + 4; k < e; k++) v = v * 10 + (b[k] - 48);
        if (g === intGroups - 1) k = fracStart;
      } else {
        for (let j = 0; j < 4; j++) v = v * 10 + (k < t ? b[k++] - 48 : 0);
      }
      if (nd === 0 && v === 0) {
        weight--;
        continue;
      }
      o[p] = v >>> 8;
      o[p + 1] = v & 255;
      p += 2;
      nd++;
      if (v !== 0) kept = nd;
    }
    if (kept === 0) {
      if (neg) throw NOPE;
      weight = 0;
    }
    if (weight > 32767 || weight < -32768) throw NOPE;
    this.w32(8 + 2 * kept);
    this.w16(kept);
    this.w16(weight & 0xffff);
    this.w16(neg ? NUMERIC_NEG : 0);
    this.w16(lf);
    this.op = head + 8 + 2 * kept;
  }

  /** bytea in hex (bytea_output is pinned to hex: session-settings.ts), `\\x` and an even number of hex digits in COPY text. */
  private bytea(b: Buffer, f: number, t: number): void {
    const n = t - f - 3;
    if (n < 0 || n % 2 !== 0 || b[f] !== BS || b[f + 1] !== BS || b[f + 2] !== 120) throw NOPE;
    this.w32(n / 2);
    const o = this.out;
    let p = this.op;
    for (let i = f + 3; i < t; i += 2) {
      const v = HEX2[(b[i] << 8) | b[i + 1]];
      if (v < 0) throw NOPE;
      o[p++] = v;
    }
    this.op = p;
  }

  private int8(b: Buffer, f: number, t: number): void {
    let i = f;
    const neg = b[i] === 45;
    if (neg) i++;
    const digits = t - i;
    if (digits < 1 || digits > 19 || (digits > 1 && b[i] === 48)) throw NOPE;
    if (digits <= 15) {
      let v = 0;
      for (; i < t; i++) {
        const d = b[i] - 48;
        if (d < 0 || d > 9) throw NOPE;
        v = v * 10 + d;
      }
      this.w32(8);
      return this.w64(neg ? -v : v);
    }
    let v = 0n;
    for (; i < t; i++) {
      const d = b[i] - 48;
      if (d < 0 || d > 9) throw NOPE;
      v = v * 10n + BigInt(d);
    }
    if (neg) v = -v;
    if (v > 9223372036854775807n || v < -9223372036854775808n) throw NOPE;
    this.w32(8);
    this.w64big(v);
  }

  private uuid(b: Buffer, f: number, t: number): void {
    if (t - f !== 36 || b[f + 8] !== 45 || b[f + 13] !== 45 || b[f + 18] !== 45 || b[f + 23] !== 45) throw NOPE;
    this.w32(16);
    const o = this.out;
    const p = this.op;
    let bad = 0;
    for (let q = 0, i = f; q < 16; q++, i += 2) {
      if (q === 4 || q === 6 || q === 8 || q === 10) i++;
      const v = HEX2[(b[i] << 8) | b[i + 1]];
      bad |= v;
      o[p + q] = v;
    }
    if (bad < 0) throw NOPE;
    this.op = p + 16;
  }

  private date(b: Buffer, f: number, t: number): void {
    if (isWord(b, f, t, 'infinity')) return (this.w32(4), this.w32(INT32_MAX));
    if (isWord(b, f, t, '-infinity')) return (this.w32(4), this.w32(INT32_MIN));
    const days = parseYmd(b, f, t);
    if (ymdNext !== t - (ymdBc ? 3 : 0) || days < DATE_MIN_DAYS || days >= DATE_END_DAYS) throw NOPE;
    this.w32(4);
    this.w32(days);
  }

  /** `YYYY-MM-DD HH:MM:SS[.ffffff]` then `+00` (timestamptz, printed in UTC) then ` BC` when BC. */
  private timestamp(b: Buffer, f: number, t: number, tz: boolean): void {
    if (isWord(b, f, t, 'infinity')) return (this.w32(8), this.w32(INT32_MAX), this.w32(-1));
    if (isWord(b, f, t, '-infinity')) return (this.w32(8), this.w32(INT32_MIN), this.w32(0));
    const days = parseYmd(b, f, t);
    const bc = ymdBc;
    let i = ymdNext;
    if (b[i] !== 32) throw NOPE;
    const h = twoDigits(b, i + 1);
    const mi = twoDigits(b, i + 4);
    const sec = twoDigits(b, i + 7);
    if (b[i + 3] !== 58 || b[i + 6] !== 58 || h > 23 || mi > 59 || sec > 59) throw NOPE;
    i += 9;
    let us = 0;
    if (b[i] === 46) {
      i++;
      let m = 0;
      while (i < t && b[i] >= 48 && b[i] <= 57) {
        us = us * 10 + (b[i] - 48);
        m++;
        i++;
      }
      if (m < 1 || m > 6 || b[i - 1] === 48) throw NOPE; // PostgreSQL drops trailing zeros
      for (; m < 6; m++) us *= 10;
    }
    if (tz) {
      if (b[i] !== 43 || b[i + 1] !== 48 || b[i + 2] !== 48) throw NOPE; // "+00": TimeZone is UTC
      i += 3;
    }
    if (i !== t - (bc ? 3 : 0)) throw NOPE;
    const secs = days * 86400 + h * 3600 + mi * 60 + sec;
    // |secs| * 1e6 stays exact in a double up to ~285 years from 2000 (always a valid timestamp); beyond, use BigInt.
    if (Math.abs(secs) < 9_000_000_000) return (this.w32(8), this.w64(secs * 1_000_000 + us));
    const v = BigInt(days) * USECS_PER_DAY + BigInt(h * 3600 + mi * 60 + sec) * 1_000_000n + BigInt(us);
    if (v < TIMESTAMP_MIN || v >= TIMESTAMP_END) throw NOPE;
    this.w32(8);
    this.w64big(v);
  }

  /** inet as PostgreSQL prints it: IPv4 dotted quad or IPv6, `/bits` unless the full length. */
  private inet(b: Buffer, f: number, t: number): void {
    if (this.inet4(b, f, t)) return;
    let slash = -1;
    for (let i = f; i < t; i++) if (b[i] === 47) slash = i;
    const end = slash === -1 ? t : slash;
    const text = b.toString('latin1', f, end);
    if (!text.includes(':')) throw NOPE;
    const addr = parseIpv6(text);
    if (!addr) throw NOPE;
    let bits = 128;
    if (slash !== -1) {
      bits = parseBits(b, slash + 1, t);
      if (bits < 0 || bits >= 128) throw NOPE; // PostgreSQL omits /128 for inet
    }
    this.w32(20);
    const o = this.out;
    o[this.op++] = 3; // PGSQL_AF_INET6
    o[this.op++] = bits;
    o[this.op++] = 0; // is_cidr: inet
    o[this.op++] = 16;
    for (const x of addr) o[this.op++] = x;
  }

  /** The common case without allocations: `a.b.c.d[/bits]`. False when the value is not that. */
  private inet4(b: Buffer, f: number, t: number): boolean {
    const o = this.out;
    const at = this.op + 8; // after the length word and the 4-byte header
    let i = f;
    for (let part = 0; part < 4; part++) {
      const s = i;
      let v = 0;
      while (i < t && b[i] >= 48 && b[i] <= 57 && i - s < 3) v = v * 10 + (b[i++] - 48);
      if (i === s || v > 255 || (i - s > 1 && b[s] === 48)) return false;
      o[at + part] = v;
      if (part < 3) {
        if (b[i] !== 46) return false;
        i++;
      }
    }
    let bits = 32;
    if (i < t) {
      if (b[i] !== 47) return false;
      bits = parseBits(b, i + 1, t);
      if (bits < 0 || bits >= 32) return false; // PostgreSQL omits /32 for inet
    }
    this.w32(8);
    o[this.op] = 2; // PGSQL_AF_INET
    o[this.op + 1] = bits;
    o[this.op + 2] = 0; // is_cidr: inet
    o[this.op + 3] = 4;
    this.op += 8;
    return true;
  }
}

/** A decimal of 1-3 digits without a leading zero (a netmask length) at b[f..t), or -1. */
function parseBits(b: Buffer, f: number, t: number): number {
  if (t - f < 1 || t - f > 3 || (t - f > 1 && b[f] === 48)) return -1;
  let v = 0;
  for (let i = f; i < t; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** A hex digit's value by its byte (0-9, a-f, A-F), else -1. (A table: uuid and bytea read millions.) */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = HEX[65 + c] = 10 + c;

/** Two hex digits' value by their bytes (first << 8 | second), else -1: one lookup per output byte. */
const HEX2 = new Int16Array(65536).fill(-1);
for (let a = 0; a < 256; a++) if (HEX[a] >= 0) for (let c = 0; c < 256; c++) if (HEX[c] >= 0) HEX2[(a << 8) | c] = (HEX[a] << 4) | HEX[c];

function hexDigit(c: number): number {
  return HEX[c] ?? -1;
}

function twoDigits(b: Buffer, i: number): number {
  const a = b[i] - 48;
  const c = b[i + 1] - 48;
  if (a < 0 || a > 9 || c < 0 || c > 9) throw NOPE;
  return a * 10 + c;
}

function isWord(b: Buffer, f: number, t: number, w: string): boolean {
  if (t - f !== w.length) return false;
  for (let i = 0; i < w.length; i++) if (b[f + i] !== w.charCodeAt(i)) return false;
  return true;
}

/** An integer of at most 10 digits (int2/int4), no sign but '-', no leading zeros. */
function parseSmallInt(b: Buffer, f: number, t: number): number {
  let i = f;
  const neg = b[i] === 45;
  if (neg) i++;
  const digits = t - i;
  if (digits < 1 || digits > 10 || (digits > 1 && b[i] === 48)) throw NOPE;
  let v = 0;
  for (; i < t; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) throw NOPE;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

/** Days from 1970-01-01 to y-m-d (proleptic Gregorian; y astronomical: 1 BC = 0). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** parseYmd's other results (not an object per value: millions of timestamps a restore): the index after the day, and whether the value ends with " BC". */
let ymdNext = 0;
let ymdBc = false;

/**
 * `YYYY-MM-DD` (4+ digit year, no sign) at b[f..]: days since 2000-01-01; sets ymdNext and ymdBc
 * (PostgreSQL prints BC years as a suffix).
 */
function parseYmd(b: Buffer, f: number, t: number): number {
  let i = f;
  let y = 0;
  while (i < t && b[i] >= 48 && b[i] <= 57) y = y * 10 + (b[i++] - 48);
  const ylen = i - f;
  if (ylen < 4 || ylen > 7 || (ylen > 4 && b[f] === 48) || b[i] !== 45 || b[i + 3] !== 45) throw NOPE;
  const m = twoDigits(b, i + 1);
  const d = twoDigits(b, i + 4);
  const bc = t - f >= 3 && b[t - 3] === 32 && b[t - 2] === 66 && b[t - 1] === 67;
  if (y === 0) throw NOPE; // there is no year 0: PostgreSQL prints 0001 BC
  const astro = bc ? 1 - y : y;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(astro, m)) throw NOPE;
  ymdNext = i + 6;
  ymdBc = bc;
  return daysFromCivil(astro, m, d) - POSTGRES_EPOCH_DAYS;
}

function parseIpv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out.push(v);
  }
  return out;
}

/** IPv6 as PostgreSQL prints it (lowercase hex groups, one `::`, an embedded IPv4 dotted quad last). */
function parseIpv6(s: string): number[] | null {
  let head = s;
  let v4: number[] | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    v4 = parseIpv4(s.slice(lastColon + 1));
    if (!v4) return null;
    head = s.slice(0, lastColon + 1); // "::ffff:", "::", "1:2:3:4:5:6:"
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const need = v4 ? 6 : 8;
  const groupsOf = (x: string): number[] | null => {
    if (x === '') return [];
    const r: number[] = [];
    for (const g of x.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      r.push(parseInt(g, 16));
    }
    return r;
  };
  const dbl = head.indexOf('::');
  let groups: number[] | null;
  if (dbl === -1) {
    groups = groupsOf(head);
    if (!groups || groups.length !== need) return null;
  } else {
    if (head.indexOf('::', dbl + 1) !== -1) return null;
    const left = groupsOf(head.slice(0, dbl));
    const right = groupsOf(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length > need - 1) return null;
    groups = [...left, ...new Array<number>(need - left.length - right.length).fill(0), ...right];
  }
  const out: number[] = [];
  for (const g of groups) out.push(g >> 8, g & 255);
  if (v4) out.push(...v4);
  return out;
}

/**
 * De-escapes COPY text (as CopyReadAttributesText does) from b[i] (a backslash) to t into o at p;
 * returns the new end. `\b \f \n \r \t \v`, octal `\NNN` (1-3 digits), hex `\xH[H]`, and a
 * backslash before any other character stands for that character. An octal or hex escape of a NUL
 * or non-ASCII byte (COPY TO never writes one) is left to the server.
 */
function unescapeInto(b: Buffer, i: number, t: number, o: Buffer, p: number): number {
  while (i < t) {
    const c = b[i++];
    if (c !== BS) {
      o[p++] = c;
      continue;
    }
    if (i >= t) throw NOPE; // a lone backslash at the end of a field
    const e = b[i++];
    switch (e) {
      case 98: o[p++] = 8; break; // \b
      case 102: o[p++] = 12; break; // \f
      case 110: o[p++] = 10; break; // \n
      case 114: o[p++] = 13; break; // \r
      case 116: o[p++] = 9; break; // \t
      case 118: o[p++] = 11; break; // \v
      case 120: { // \x: one or two hex digits
        const h1 = i < t ? hexDigit(b[i]) : -1;
        if (h1 < 0) {
          o[p++] = 120;
          break;
        }
        i++;
        let v = h1;
        const h2 = i < t ? hexDigit(b[i]) : -1;
        if (h2 >= 0) {
          v = (v << 4) | h2;
          i++;
        }
        if (v === 0 || v > 127) throw NOPE; // see below
        o[p++] = v;
        break;
      }
      default:
        if (e >= 48 && e <= 55) {
          let v = e - 48;
          for (let k = 0; k < 2 && i < t && b[i] >= 48 && b[i] <= 55; k++) v = (v << 3) | (b[i++] - 48);
          // A NUL or non-ASCII byte: COPY text checks it against the DATABASE encoding (its input was
          // converted from the client's before de-escaping), binary receive converts it from the
          // client's (UTF8): in a LATIN1 database '\303\251' is 'Ã©' as text and 'é' as binary.
          if ((v & 255) === 0 || (v & 255) > 127) throw NOPE;
          o[p++] = v & 255;
        } else {
          if (e === 46 /* . */ || e === 78 /* N */) throw NOPE; // \. and \N inside a field: let the server decide
          o[p++] = e;
        }
    }
  }
  return p;
}
