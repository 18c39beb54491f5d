import { expect, it } from 'vitest';
import { parseQuotedName, splitTableList } from '../../lib/backup/restore/preflight';

// --tables names: SQL quoting for the names that need it (edge spaces, dots, commas, quotes).
it('splits --tables at commas outside double quotes, and refuses a quote left open', () => {
  expect(splitTableList('a, public.b ,"x,y"."p q", "a""b"')).toEqual(['a', 'public.b', '"x,y"."p q"', '"a""b"']);
  expect(splitTableList(' , ')).toEqual([]);
  expect(() => splitTableList('"public .t')).toThrow(/--tables "public \.t: a double quote is not closed/);
});

it('reads "schema"."table" as SQL does (doubled quotes, unquoted parts as written); anything else is not a quoted name', () => {
  expect(parseQuotedName('"public "."public "')).toEqual({ schema: 'public ', name: 'public ' });
  expect(parseQuotedName('"a.b".c')).toEqual({ schema: 'a.b', name: 'c' });
  expect(parseQuotedName('Sales."Q1 ""final"""')).toEqual({ schema: 'Sales', name: 'Q1 "final"' });
  expect(parseQuotedName('"only"')).toEqual({ schema: null, name: 'only' });
  expect(parseQuotedName('plain.name')).toBeNull();
  for (const bad of ['"a"."b"."c"', '"a"b', '"a".', '."b"', '"open', 'a"b'])
    expect(parseQuotedName(bad), bad).toBeNull();
});
