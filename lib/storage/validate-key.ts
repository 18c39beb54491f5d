import { AppError } from '../errors';

/** S3's limit on key length (UTF-8 bytes); applied to every adapter so keys are portable. */
const MAX_KEY_BYTES = 1024;

/**
 * Checks that `key` is a portable storage key and returns it unchanged; otherwise throws
 * AppError('usage'). Both adapters call it, so a key that works on local disk works on S3 and
 * vice versa. Rules: non-empty '/'-separated segments; no leading or trailing '/', no empty
 * segment; no segment starting with '.' (covers '.' and '..', which would escape the root, and
 * reserves dot-names for the local adapter's temp files); no backslash (a path separator on
 * Windows, ambiguous elsewhere); no control characters; at most 1024 UTF-8 bytes. Any other
 * Unicode is allowed and stored verbatim.
 */
export function validateKey(key: string): string {
  const why = keyProblem(key);
  if (why) throw new AppError('usage', `invalid storage key ${JSON.stringify(key)}: ${why}`);
  return key;
}

/**
 * Checks a list() prefix: same rules as a key, except that it may be empty and may end with '/'
 * or in the middle of a segment (it is a plain string prefix).
 */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const why = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, true);
  if (why) throw new AppError('usage', `invalid storage prefix ${JSON.stringify(prefix)}: ${why}`);
  return prefix;
}

function keyProblem(key: string, isPrefix = false): string | undefined {
  if (typeof key !== 'string' || key === '') return 'empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\\')) return 'contains a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'contains a control character';
  if (key.startsWith('/')) return "starts with '/'";
  if (!isPrefix && key.endsWith('/')) return "ends with '/'";
  for (const seg of key.split('/')) {
    if (seg === '') return "contains an empty segment ('//')";
    if (seg === '..' || seg === '.') return `contains '${seg}'`;
    if (seg.startsWith('.')) return "has a segment starting with '.'";
  }
  return undefined;
}

/**
 * Orders keys the way S3 lists them (by UTF-8 bytes), so both adapters return the same order
 * even for non-ASCII keys, where UTF-16 code-unit order differs.
 */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Validates an inclusive byte range against an object of `size` bytes and returns it with `end`
 * clamped to the last byte (as S3 does). A range starting at or past the end is a usage error.
 */
export function checkRange(range: { start: number; end: number }, size: number, where: string): { start: number; end: number } {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new AppError('usage', `invalid byte range ${start}-${end} for ${where}`);
  }
  if (start >= size) {
    throw new AppError('usage', `byte range ${start}-${end} is outside ${where} (${size} bytes)`);
  }
  return { start, end: Math.min(end, size - 1) };
}
