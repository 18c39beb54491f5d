import { describe, expect, it } from 'vitest';
import { ChunkWriter, CsvRowRewriter } from '../../lib/queries/csv-cell-rewriter';
import type { CsvColumn } from '../../lib/queries/csv-cell-rewriter';
import { CopyOutParser } from '../../lib/queries/copy-out-csv';

// COPY … (FORMAT csv, HEADER) output as the export's SELECT makes it (DateStyle ISO): text as is,
// timestamps as PostgreSQL prints them, one header row. The last two columns are never quoted,
// so the rewriter reads them from the row's end; 'we,ird' (quotable, plain) lies between.
const COLUMNS: CsvColumn[] = [
  { kind: 'plain', quotable: false },
  { kind: 'guard', quotable: true },
  { kind: 'tstz', quotable: false },
  { kind: 'ts', quotable: false },
  { kind: 'guard', quotable: true },
  { kind: 'plain', quotable: true },
  { kind: 'plain', quotable: false },
  { kind: 'tstz', quotable: false },
];
const ROWS = [
  'id,name,at,local,"we,ird",j,u,last\n',
  '1,=HYPERLINK(x),2025-03-01 08:00:00.12+03,2025-03-01 08:00:00,plain,"{""a"": ""=1,2""}",7,2025-03-01 08:00:00+03\n',
  '2,"=a,b",2025-03-01 08:00:00+05:45,2025-03-01 08:00:00.5,"@x ""q""","=x",,2025-03-01 08:00:00-03:30\n',
  '3,+251911234567,infinity,-infinity,-250,,-1,infinity\n',
  '4,-2+3,1950-06-01 09:15:30-00:44:30,0044-03-15 00:00:00 BC,"",+,8,0044-03-15 00:00:00-00:43:08 BC\n',
  '5,,0044-03-15 00:00:00-00:43:08 BC,12000-01-01 00:00:00,"line1\nline2",-,9,12000-01-01 00:00:00+03\n',
  '6,"\t=1",,,"\r=1",,,\n',
  '7,\t=2,,,+,"",,-infinity\n',
  '8,-,,,-,@,10,2025-03-01 08:00:00.123456+00\n',
];
const EXPECTED = [
  'id,name,at,local,"we,ird",j,u,last\n',
  "1,'=HYPERLINK(x),2025-03-01T08:00:00.12+03:00,2025-03-01T08:00:00,plain,\"{\"\"a\"\": \"\"=1,2\"\"}\",7,2025-03-01T08:00:00+03:00\n",
  '2,"\'=a,b",2025-03-01T08:00:00+05:45,2025-03-01T08:00:00.5,"\'@x ""q""","=x",,2025-03-01T08:00:00-03:30\n',
  '3,+251911234567,,,-250,,-1,\n',
  "4,'-2+3,1950-06-01T09:15:30-00:44,0044-03-15T00:00:00,\"\",+,8,0044-03-15T00:00:00-00:43\n",
  '5,,0044-03-15T00:00:00-00:43,12000-01-01T00:00:00,"line1\nline2",-,9,12000-01-01T00:00:00+03:00\n',
  '6,"\'\t=1",,,"\'\r=1",,,\n',
  "7,'\t=2,,,'+,\"\",,\n",
  "8,'-,,,'-,@,10,2025-03-01T08:00:00.123456+00:00\n",
].join('');

/** The rows through a rewriter, into chunks of `size` bytes. */
function rewrite(rows: string[], columns = COLUMNS, size = 64): string {
  const out: Buffer[] = [];
  const w = new ChunkWriter(size, (c) => out.push(Buffer.from(c)));
  const rw = new CsvRowRewriter(columns);
  for (const r of rows) {
    // Each row in the middle of a larger buffer, as rows sit in the socket's chunks.
    const b = Buffer.concat([Buffer.from('xx,"\n'), Buffer.from(r), Buffer.from(',"yy')]);
    rw.row(b, 5, b.length - 4, w);
  }
  w.emit();
  return Buffer.concat(out).toString('utf8');
}

/** A backend message: type byte, length, body. */
function msg(type: string, body: Buffer | string = ''): Buffer {
  const b = Buffer.from(body);
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeUInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
}

/** The protocol bytes of a COPY TO STDOUT of `rows` (with a notice in between), then what follows CopyDone. */
function copyOut(rows: string[], after: Buffer): Buffer {
  const data = rows.map((r) => msg('d', r));
  data.splice(3, 0, msg('N', 'SNOTICE\0Mhello\0\0'), msg('S', 'TimeZone\0UTC\0'));
  return Buffer.concat([msg('H', Buffer.from([0, 0, 8, ...Array(16).fill(0)])), ...data, msg('c'), after]);
}

const AFTER = Buffer.concat([msg('C', 'COPY 8\0'), msg('Z', 'T')]);

/** Feeds `stream` cut at `cuts` to a parser; the rows it saw (as text) and the bytes it handed back. */
function parse(stream: Buffer, cuts: number[]): { rows: string[]; rest: Buffer | null; extra: number } {
  const rows: string[] = [];
  const p = new CopyOutParser((src, s, end) => rows.push(src.toString('utf8', s, end)));
  let rest: Buffer | null = null;
  let extra = 0;
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    const chunk = stream.subarray(from, to);
    from = to;
    if (rest) {
      extra += chunk.length;
      continue;
    }
    const r = p.push(chunk);
    if (r >= 0) rest = Buffer.concat([chunk.subarray(r), stream.subarray(to)]);
  }
  return { rows, rest, extra };
}

describe('CsvRowRewriter (formula guard and ISO 8601 timestamps on the export CSV)', () => {
  it('guards formula-like text, keeps numbers and phone numbers, writes every timestamp as ISO 8601; the header passes', () => {
    expect(rewrite(ROWS)).toBe(EXPECTED);
    // One big output chunk, and chunks smaller than a row.
    expect(rewrite(ROWS, COLUMNS, 1 << 20)).toBe(EXPECTED);
    expect(rewrite(ROWS, COLUMNS, 8)).toBe(EXPECTED);
  });

  it('gives the same bytes when every column is read from the front (all quotable)', () => {
    expect(rewrite(ROWS, COLUMNS.map((c) => ({ ...c, quotable: true })))).toBe(EXPECTED);
  });

  it('passes multi-byte UTF-8 (Amharic) through untouched', () => {
    const cols: CsvColumn[] = [{ kind: 'guard', quotable: true }, { kind: 'guard', quotable: true }, { kind: 'tstz', quotable: false }];
    expect(rewrite(['a,b,c\n', 'ሰላም =1,=ቤቲ,2025-03-01 08:00:00+03\n'], cols)).toBe("a,b,c\nሰላም =1,'=ቤቲ,2025-03-01T08:00:00+03:00\n");
  });

  it('refuses rows it cannot read instead of guessing: no newline at the end, too few cells, an unterminated quote, a quote in a never-quoted column', () => {
    const bad = (row: string) => () => rewrite([ROWS[0], row]);
    expect(bad('1,x,,,,,,2025-03-01 08:00:00+03')).toThrow(/newline/);
    expect(bad('1,x\n')).toThrow(/cells/);
    expect(bad('1,"x,,,,,,\n')).toThrow(/unterminated/);
    expect(bad('1,x,,,,,7,"2025-03-01 08:00:00+03"\n')).toThrow(/never quoted/);
  });
});

describe('CopyOutParser (the COPY TO STDOUT protocol, one CopyData message per row)', () => {
  const stream = copyOut(ROWS, AFTER);

  it('gives every row whole and hands back what follows CopyDone, however the socket cuts the bytes', () => {
    for (let i = 0; i <= stream.length; i++) {
      const r = parse(stream, [i]);
      expect(r.rows, `cut at ${i}`).toEqual(ROWS);
      expect(r.rest?.equals(AFTER), `cut at ${i}`).toBe(true);
    }
    const oneByOne = parse(
      stream,
      [...stream.keys()].slice(1),
    );
    expect(oneByOne.rows).toEqual(ROWS);
    expect(oneByOne.rest?.equals(AFTER)).toBe(true);
  });

  it('stops at an ErrorResponse and hands it back whole (pg reports it)', () => {
    const err = Buffer.concat([msg('E', 'SERROR\0C57014\0Mcanceling statement\0\0'), msg('Z', 'E')]);
    const failing = Buffer.concat([msg('H', Buffer.from([0, 0, 0])), msg('d', ROWS[0]), msg('d', ROWS[1]), err]);
    for (let i = 0; i <= failing.length; i++) {
      const r = parse(failing, [i]);
      expect(r.rows).toEqual(ROWS.slice(0, 2));
      expect(r.rest?.equals(err), `cut at ${i}`).toBe(true);
    }
  });

  it('parser and rewriter together: the same CSV whatever the cuts', () => {
    for (let i = 0; i <= stream.length; i += 7) {
      const out: Buffer[] = [];
      const w = new ChunkWriter(100, (c) => out.push(Buffer.from(c)));
      const rw = new CsvRowRewriter(COLUMNS);
      const p = new CopyOutParser((src, s, end) => rw.row(src, s, end, w));
      p.push(stream.subarray(0, i));
      p.push(stream.subarray(i));
      w.emit();
      expect(Buffer.concat(out).toString('utf8'), `cut at ${i}`).toBe(EXPECTED);
    }
  });
});
