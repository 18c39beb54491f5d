import { AppError, httpStatus, oneLine } from '../errors';

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
  const e = err as { message?: string; code?: string } | undefined;
  console.error(`[api] unexpected error: ${oneLine(String(e?.message ?? err)).replace(/postgres(ql)?:\/\/[^\s]+/g, 'postgres://***')}`);
  return jsonError(500, 'internal', 'Internal server error');
}
