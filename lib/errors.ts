/**
 * The one error class of TicketHub Backup. Every failure a user can see carries a `code` from
 * `ErrorCode`; the code decides the HTTP status (`httpStatus`) and the CLI exit code (`exitCode`)
 * in exactly one place each, so a route or command never invents its own mapping.
 */
export type ErrorCode =
  | 'usage' // bad command-line arguments or request parameters
  | 'bad_request' // malformed input (JSON, query parameters)
  | 'unauthorized' // no valid session / secret
  | 'forbidden' // authenticated but the role may not do this
  | 'not_found' // backup id, table, route unknown
  | 'conflict' // a backup is already running, target not empty, schema exists
  | 'rate_limited' // sign-in throttling
  | 'config' // environment/configuration invalid (DATABASE_URL malformed, unset secret)
  | 'db_unreachable' // cannot connect to PostgreSQL
  | 'db_auth' // wrong password / role
  | 'db_permission' // missing privilege on an object
  | 'db_error' // any other database failure
  | 'migration_failed'
  | 'storage' // storage not writable, bucket missing, disk full
  | 'corrupt' // checksum mismatch, truncated archive, unknown format
  | 'incompatible' // backup newer than the app (migration level), unknown format version
  | 'verification_failed' // a backup or drill did not verify
  | 'aborted' // interrupted by the user or a signal
  | 'internal';

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable detail safe to show to an admin (never secrets). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  usage: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  config: 500,
  db_unreachable: 503,
  db_auth: 503,
  db_permission: 500,
  db_error: 500,
  migration_failed: 500,
  storage: 502,
  corrupt: 422,
  incompatible: 422,
  verification_failed: 422,
  aborted: 499,
  internal: 500,
};

/** HTTP status for an error code: the one table routes use. */
export function httpStatus(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** CLI exit code: 2 for usage errors, 1 for every other failure (0 is success). */
export function exitCode(code: ErrorCode): number {
  return code === 'usage' ? 2 : 1;
}

/**
 * Turns anything thrown (pg errors, Node system errors, AWS SDK errors) into an AppError with a
 * one-line message that names the cause. Already-AppErrors pass through unchanged.
 */
export function toAppError(err: unknown, context?: string): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; message?: string; name?: string; errno?: number; $metadata?: unknown } | undefined;
  const prefix = context ? `${context}: ` : '';
  const msg = oneLine(e?.message ?? String(err));
  const code = e?.code;
  // The AWS SDK puts $metadata on every error it raises, network ones included: a reset or refused
  // connection to the S3 storage is a storage failure, never 'db_unreachable'.
  if (e && typeof e === 'object' && '$metadata' in e) return new AppError('storage', `${prefix}storage: ${msg}`, { cause: err });
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET' || code === '57P01' || code === '57P03' || code === '08006' || code === '08001' || code === '08004') {
    return new AppError('db_unreachable', `${prefix}${msg}`, { cause: err });
  }
  if (code === '28P01' || code === '28000') return new AppError('db_auth', `${prefix}${msg}`, { cause: err });
  if (code === '3D000') return new AppError('db_unreachable', `${prefix}${msg}`, { cause: err });
  if (code === '42501') return new AppError('db_permission', `${prefix}${msg}`, { cause: err });
  // "out of shared memory": the setting to raise is in PostgreSQL's hint; never drop it.
  const hint = (e as { hint?: string } | undefined)?.hint;
  if (code === '53200' && hint) return new AppError('db_error', `${prefix}${msg} (${oneLine(hint)})`, { cause: err });
  if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return new AppError('storage', `${prefix}${msg}`, { cause: err });
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return new AppError('db_error', `${prefix}${msg}`, { cause: err });
  return new AppError('internal', `${prefix}${msg}`, { cause: err });
}

/** Collapses a message to one line (errors are shown as exactly one line). */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
