import { createHash, timingSafeEqual } from 'node:crypto';
import { errorResponse, jsonError } from './error-response';

/**
 * Shortest CRON_SECRET accepted. A shorter one is treated as unset (503): a guessable secret would
 * let anyone start backups, and failing closed makes the misconfiguration visible at once.
 */
export const MIN_CRON_SECRET_LENGTH = 16;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * True when `authorization` is exactly `Bearer <secret>`. Compares SHA-256 digests with
 * timingSafeEqual so neither the content nor the length of the secret leaks through timing.
 */
export function cronAuthorized(authorization: string | null, secret: string): boolean {
  const got = sha256(authorization ?? '');
  const want = sha256(`Bearer ${secret}`);
  return timingSafeEqual(got, want);
}

/**
 * Wraps a cron route handler (Vercel Cron sends `Authorization: Bearer <CRON_SECRET>`):
 * - CRON_SECRET unset, blank or shorter than 16 characters (leading/trailing whitespace does not
 *   count: it is trimmed) → 503 JSON `config`, and the handler never
 *   runs (the route is never open because a secret is missing);
 * - a missing or wrong Authorization header → 401 JSON `unauthorized`;
 * - otherwise runs the handler; anything it throws is mapped as withAdmin does (AppError code →
 *   status via httpStatus; anything else → generic 500 logged server-side).
 * The secret is read per request so a rotated value applies without a rebuild.
 */
export function withCron(handler: (req: Request) => Promise<Response>): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      // Trimmed: a secret pasted with a newline or spaces can never match (HTTP strips them from the
      // header), so it would 401 every delivery; and blanks alone are no secret (503 below).
      const secret = (process.env.CRON_SECRET ?? '').trim();
      if (secret.length < MIN_CRON_SECRET_LENGTH) {
        console.error(`[cron] refused ${new URL(req.url).pathname}: CRON_SECRET is not set (or shorter than ${MIN_CRON_SECRET_LENGTH} characters)`);
        return jsonError(503, 'config', 'CRON_SECRET is not set');
      }
      if (!cronAuthorized(req.headers.get('authorization'), secret)) {
        return jsonError(401, 'unauthorized', 'A valid cron secret is required (Authorization: Bearer <CRON_SECRET>)');
      }
      return await handler(req);
    } catch (err) {
      return errorResponse(err);
    }
  };
}
