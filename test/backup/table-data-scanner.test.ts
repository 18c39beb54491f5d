import { describe, expect, it } from 'vitest';
import { copyStatement } from '../../lib/backup/manifest';
import { TableDataScanner } from '../../lib/backup/member-check';

// The scanner hands the rows of a table-data member to COPY as the chunks arrive — whole chunks,
// not copies — and never the `\.` terminator nor anything after it. Chunk boundaries fall
// anywhere (a line-start backslash, inside `\.`, inside the COPY line): every split is tried.

const table = { schema: 'public', name: 'events', columns: ['id', 'note'] };
const head = `${copyStatement(table.schema, table.name, table.columns)}\n`;
// Rows that start with a backslash (\N: a NULL first column) make the boundary cases.
const rows = '1\thello\n\\N\tno id\n2\t\\\\.back\\\\slash\n\\N\t\\N\n3\tlast\n';

/** Feeds `text` cut at `cuts`; returns what was handed out, or the error. */
function feed(text: string, cuts: number[]): { out: string; rows: number } | Error {
  const s = new TableDataScanner(table, 'TABLE DATA public.events (#3)');
  const buf = Buffer.from(text, 'utf8');
  const bounds = [0, ...cuts, buf.length];
  const out: Buffer[] = [];
  try {
    for (let i = 0; i + 1 < bounds.length; i++) out.push(...s.push(buf.subarray(bounds[i], bounds[i + 1])));
    s.end();
  } catch (err) {
    return err as Error;
  }
  return { out: Buffer.concat(out).toString('utf8'), rows: s.rows };
}

describe('TableDataScanner', () => {
  const member = `${head}${rows}\\.\n`;
  const n = Buffer.byteLength(member);

  it('hands out exactly the rows, whatever the chunk boundaries (every 1- and 2-cut split)', () => {
    for (let a = 1; a < n; a++) {
      expect(feed(member, [a])).toEqual({ out: rows, rows: 5 });
      for (let b = a + 1; b < n; b++) expect(feed(member, [a, b])).toEqual({ out: rows, rows: 5 });
    }
  });

  it('hands out whole chunks, not copies, when a chunk holds no terminator', () => {
    const s = new TableDataScanner(table, 'x');
    s.push(Buffer.from(head));
    const chunk = Buffer.from(rows);
    const out = s.push(chunk);
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(chunk);
  });

  it('an empty table: nothing handed out, 0 rows', () => {
    for (let a = 1; a < Buffer.byteLength(`${head}\\.\n`); a++) expect(feed(`${head}\\.\n`, [a])).toEqual({ out: '', rows: 0 });
  });

  it('never hands out the terminator or what follows it; refuses members that do not end with it', () => {
    const after = `${head}${rows}\\.\nDROP TABLE x;\n`;
    for (let a = 1; a < Buffer.byteLength(after); a++) {
      const r = feed(after, [a]);
      expect(r).toBeInstanceOf(Error);
      expect((r as Error).message).toMatch(/^TABLE DATA public\.events \(#3\): has data after its \\\. terminator/);
    }
    for (const bad of [`${head}${rows}`, `${head}${rows}\\.`, `${head}${rows}\\.x\n`, `${head}${rows}\\`]) {
      for (let a = 1; a < Buffer.byteLength(bad); a++) {
        const r = feed(bad, [a]);
        expect(r).toBeInstanceOf(Error);
        expect((r as Error).message).toMatch(/does not end with the COPY terminator|has data after/);
      }
    }
  });

  it('what it hands out before failing never includes a \\. line', () => {
    const s = new TableDataScanner(table, 'x');
    const handed: Buffer[] = [];
    const text = Buffer.from(`${head}1\ta\n\\.\n2\tb\n`);
    expect(() => {
      for (let i = 0; i < text.length; i++) handed.push(...s.push(text.subarray(i, i + 1)));
    }).toThrow(/has data after its \\\. terminator/);
    expect(Buffer.concat(handed).toString()).toBe('1\ta\n');
  });
});
