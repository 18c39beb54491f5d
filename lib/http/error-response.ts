import { AppError, httpStatus, oneLine, toAppError } from '../errors';

/** The JSON error body every API route returns. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** A JSON error response with the given status. */
export function jsonError(status: number, code: string, message: string, details?: Record<string, unknown>, headers?: HeadersInit): Response {
  const body: ErrorBody = { error: details ? { code, message, details } : { code, message } };
  return Response.json(body, { status, headers });
}

/**
 * Maps anything thrown to a response: AppErrors through the one code→status table (their
 * messages are written for users); anything else is logged server-side and answered with a
 * generic 500 so internals (SQL, paths, secrets in connection strings) never reach the client.
 */
export function errorResponse(err: unknown): Response {
  if (err instanceof AppError) {
    const status = httpStatus(err.code);
    if (status >= 500) console.error(`[api] ${err.code}: ${oneLine(err.message)}`);
    const headers: Record<string, string> = {};
    const retry = err.details?.retryAfterSeconds;
    if (typeof retry === 'number') headers['Retry-After'] = String(retry);
    return jsonError(status, err.code, err.message, err.details, headers);
  }
  const detail = oneLine(String((err as { message?: string } | undefined)?.message ?? err)).replace(/postgres(ql)?:\/\/[^\s]+/g, 'postgres://***');
  const mapped = toAppError(err);
  // The database being down is an operational state, not a bug: say so (503), but without the
  // driver's message, which names hosts and ports to anyone who can reach the login route.
  if (mapped.code === 'db_unreachable' || mapped.code === 'db_auth') {
    console.error(`[api] database unavailable: ${detail}`);
    return jsonError(503, 'db_unreachable', 'The database is unavailable; try again shortly');
  }
  console.error(`[api] unexpected error: ${detail}`);
  return jsonError(500, 'internal', 'Internal server error');
}
