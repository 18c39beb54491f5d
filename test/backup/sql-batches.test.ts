import { describe, expect, it } from 'vitest';
import { splitStatements, statementCount } from '../../lib/backup/restore/sql-batches';

describe('splitStatements (a member too big for one transaction of a --jobs restore, run in pieces)', () => {
  it('splits at semicolons outside identifiers, literals and comments, keeping every byte', () => {
    const sql = [
      'ALTER TABLE public."a;b" OWNER TO "x""y";\n',
      'ALTER TABLE public."new\nline;" OWNER TO postgres;\n',
      "SELECT pg_catalog.setval('public.\"s;q''\"', 5, true);\n",
      '-- a comment; with a semicolon\nGRANT SELECT ON TABLE public.t TO PUBLIC;\n',
      'COMMENT ON TABLE public.t IS \'it\'\'s; fine\';\n',
    ];
    const parts = splitStatements(sql.join(''));
    expect(parts).toEqual(sql);
    expect(parts!.join('')).toBe(sql.join(''));
  });

  it('does not split what it does not follow: dollar quotes, escape strings, block comments, an open quote', () => {
    expect(splitStatements('CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\nSELECT 1;\n')).toBeNull();
    expect(splitStatements("COMMENT ON TABLE t IS E'a\\';b';\nSELECT 1;\n")).toBeNull();
    expect(splitStatements('/* x; */ SELECT 1;\nSELECT 2;\n')).toBeNull();
    expect(splitStatements('ALTER TABLE "unterminated; OWNER TO x;\n')).toBeNull();
  });

  it('counts statements high rather than low', () => {
    expect(statementCount('SELECT 1;\nSELECT 2;\n')).toBe(2);
    expect(statementCount('CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\nSELECT 1;\nSELECT 2;\n$$;\n')).toBe(3);
    expect(statementCount('')).toBe(1);
  });
});
