/**
 * Identifier and literal quoting with PostgreSQL's `quote_ident` / `quote_literal` semantics, so
 * generated DDL reads like pg_dump's (bare names where safe, double quotes otherwise).
 */

// Keywords that are not "unreserved" (pg_get_keywords() catcode <> 'U', PostgreSQL 17; a superset
// of 15's). quote_ident quotes these even when they are otherwise plain lower-case words.
const NON_UNRESERVED = new Set(
  `all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both case cast
char character check coalesce collate collation column concurrently constraint create cross current_catalog
current_date current_role current_schema current_time current_timestamp current_user dec decimal default deferrable
desc distinct do else end except exists extract false fetch float for foreign freeze from full grant greatest group
grouping having ilike in initially inner inout int integer intersect interval into is isnull join lateral leading least
left like limit localtime localtimestamp national natural nchar none normalize not notnull null nullif numeric offset
on only or order out outer overlaps overlay placing position precision primary real references returning right row
select session_user setof similar smallint some substring symmetric table tablesample then time timestamp to trailing
treat trim true union unique user using values varchar variadic verbose when where window with xmlattributes
xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable`.split(/\s+/),
);

/**
 * The one place identifiers are quoted. `quoteIdent` is `quote_ident`: the name bare when it is a
 * lower-case identifier and not a keyword, else double-quoted (generated DDL reads like pg_dump's).
 * Any character may appear inside the quotes (newline, CR, U+2028, backslash): only `"` is doubled.
 */
export function quoteIdent(name: string): string {
  if (/^[a-z_][a-z0-9_]*$/.test(name) && !NON_UNRESERVED.has(name)) return name;
  return quoteIdentAlways(name);
}

/**
 * Always double-quoted, whatever the name looks like: the archive's COPY lines are spelled this way
 * (format v1) and readers compare them byte for byte.
 */
export function quoteIdentAlways(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.name`, each part quoted as needed. */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * A string literal safe under standard_conforming_strings=on (the archive header sets it): single
 * quotes doubled; backslashes are then ordinary characters.
 */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A dollar-quote tag the body does not contain. */
export function dollarQuote(body: string): string {
  let tag = '$th$';
  for (let i = 0; body.includes(tag); i++) tag = `$th${i}$`;
  return `${tag}${body}${tag}`;
}
