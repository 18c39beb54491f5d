import { describe, expect, it } from 'vitest';
import { CsvCellRewriter } from '../../lib/queries/csv-cell-rewriter';
import type { CellKind } from '../../lib/queries/csv-cell-rewriter';

// COPY … (FORMAT csv, HEADER) output as the export's SELECT makes it: text as is, timestamps as
// their JSON text (to_json), one header row.
const KINDS: CellKind[] = ['plain', 'guard', 'tstz', 'ts', 'guard'];
const INPUT = [
  'id,name,at,local,"we,ird"',
  '1,=HYPERLINK(x),2025-03-01T08:00:00.12+03:00,2025-03-01T08:00:00,plain',
  '2,"=a,b",2025-03-01T08:00:00+05:45,2025-03-01T08:00:00.5,"@x ""q"""',
  '3,+251911234567,infinity,-infinity,-250',
  '4,-2+3,1950-06-01T09:15:30-00:44:30,0044-03-15T00:00:00 BC,""',
  '5,,0044-03-15T00:00:00-00:43:08 BC,12000-01-01T00:00:00,"line1\nline2"',
  '6,"\t=1",,,"\r=1"',
  '7,\t=2,,,+',
  '8,-,,,-',
  '',
].join('\n');
const EXPECTED = [
  'id,name,at,local,"we,ird"',
  "1,'=HYPERLINK(x),2025-03-01T08:00:00.12+03:00,2025-03-01T08:00:00,plain",
  '2,"\'=a,b",2025-03-01T08:00:00+05:45,2025-03-01T08:00:00.5,"\'@x ""q"""',
  '3,+251911234567,,,-250',
  "4,'-2+3,1950-06-01T09:15:30-00:44,0044-03-15T00:00:00,\"\"",
  '5,,0044-03-15T00:00:00-00:43,12000-01-01T00:00:00,"line1\nline2"',
  '6,"\'\t=1",,,"\'\r=1"',
  "7,'\t=2,,,'+",
  "8,'-,,,'-",
  '',
].join('\n');

function run(chunks: Buffer[]): string {
  const rw = new CsvCellRewriter(KINDS);
  const out = chunks.map((c) => rw.push(Buffer.from(c)));
  out.push(rw.end());
  return Buffer.concat(out).toString('utf8');
}

describe('CsvCellRewriter (formula guard and ISO 8601 timestamps on the export CSV)', () => {
  it('guards formula-like text, keeps numbers and phone numbers, fixes the rare timestamps; the header passes', () => {
    expect(run([Buffer.from(INPUT)])).toBe(EXPECTED);
  });

  it('gives the same bytes however COPY cuts the stream (every split point, and one byte at a time)', () => {
    const all = Buffer.from(INPUT);
    for (let i = 0; i <= all.length; i++) expect(run([all.subarray(0, i), all.subarray(i)]), `split at ${i}`).toBe(EXPECTED);
    expect(run([...all].map((b) => Buffer.from([b])))).toBe(EXPECTED);
  });

  it('passes multi-byte UTF-8 (Amharic) through untouched, also when a chunk ends inside a character', () => {
    const input = Buffer.from('id,name,at,local,x\n1,ሰላም =1,2025-03-01T08:00:00+03:00,2025-03-01T08:00:00,=ቤቲ\n');
    const want = "id,name,at,local,x\n1,ሰላም =1,2025-03-01T08:00:00+03:00,2025-03-01T08:00:00,'=ቤቲ\n";
    for (let i = 0; i <= input.length; i++) expect(run([input.subarray(0, i), input.subarray(i)])).toBe(want);
  });
});
