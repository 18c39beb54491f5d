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
 * The export applies it to COPY's CSV on its way out (csv-cell-rewriter.ts), off the database backend.
 */

/** First characters that always start a formula. */
export const FORMULA_START = '^[=@\\t\\r]';
/** A cell starting with + or - is data (not a formula) only when it is all number or phone number. */
export const SIGNED_DATA = '^([+-]?[0-9]+([.,][0-9]+)*|\\+[0-9][0-9 ]{5,24})$';

const FORMULA_START_RE = new RegExp(FORMULA_START);
const SIGNED_DATA_RE = new RegExp(SIGNED_DATA);

/** True when a spreadsheet would evaluate `cell` (the export then prefixes `'`). */
export function needsFormulaGuard(cell: string): boolean {
  if (FORMULA_START_RE.test(cell)) return true;
  return /^[+-]/.test(cell) && !SIGNED_DATA_RE.test(cell);
}
