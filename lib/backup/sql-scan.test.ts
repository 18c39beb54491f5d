import { describe, expect, it } from 'vitest';
import { scanSql } from './sql-scan';

describe('scanSql', () => {
  it('splits statements at top-level semicolons only', () => {
    const s = scanSql(`CREATE TABLE "a;b" (x text DEFAULT ';'); COMMENT ON TABLE t IS E'it\\'s; ok'; CREATE FUNCTION f() RETURNS int AS $f$ SELECT 1; $f$ LANGUAGE sql /* ; */ -- ;\n;`);
    expect(s.statements.map((x) => x.words[0])).toEqual(['CREATE', 'COMMENT', 'CREATE']);
    expect(s.backslash).toBe(-1);
    expect(s.unterminated).toBe(false);
  });

  it('finds a backslash outside quotes, in either reading of plain literals', () => {
    expect(scanSql(`SELECT 1;\n\\! ls\n`).backslash).toBe(10);
    expect(scanSql(`SELECT 'a\\'' \\! ls\n';`).backslash).toBe(-1);
    expect(scanSql(`SELECT 'a\\'' \\! ls\n';`, { escapeStrings: true }).backslash).toBe(13);
    expect(scanSql(`SELECT 'x\\d+', "q\\"" , $$\\!$$, E'\\\\'`).backslash).toBe(-1);
    expect(scanSql(`SELECT 1 /* \\! ls */`).backslash).toBe(12);
  });

  it('words at depth 0 and a dollar inside an identifier', () => {
    const s = scanSql(`CREATE TABLE a$b$ (x int) AS SELECT $1`);
    expect(s.statements[0].words).toEqual(['CREATE', 'TABLE', 'A$B$', 'AS', 'SELECT']);
    expect(scanSql(`SELECT 'open`).unterminated).toBe(true);
  });
});
