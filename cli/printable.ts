/**
 * Terminal-safe text: what `show`, `verify`, `restore` (and every error line of the CLI) print can
 * hold names and descriptions chosen by anyone who can create a table or start a backup. Control
 * characters would reach the operator's terminal raw (ANSI escapes recolour, move the cursor, retitle
 * the window, hide text; a CR overwrites a line), so they are printed escaped: C0 and DEL as `\n`,
 * `\r`, `\t`, `\e` or `\xNN`; C1, the line/paragraph separators and the bidirectional overrides
 * ("Trojan source") as `\u{NNNN}`. Everything else (Amharic, emoji) passes unchanged.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

/** One line of output with every control character escaped. */
export function printable(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`);
  });
}

/** Lines for the terminal: each escaped, joined with newlines, ending with one. */
export function printableLines(lines: string[]): string {
  return `${lines.map(printable).join('\n')}\n`;
}

/**
 * JSON for the terminal: JSON.stringify escapes C0 but leaves C1 (0x9B is a one-byte CSI on some
 * terminals) and U+2028/2029 raw; those become \uNNNN (still the same JSON value).
 */
export function printableJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
