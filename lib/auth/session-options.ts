import type { SessionOptions } from 'iron-session';
import { AppError } from '../errors';
import { PEER_PROTO_HEADER, peerHookInstalled } from '../http/peer-address';

/**
 * What the encrypted session cookie carries: only the id of a row in admin_sessions, which decides
 * (on every request) whether the session is still valid and whose it is.
 */
export interface SessionData {
  sid?: string;
  /** Epoch milliseconds of the sign-in, to enforce the absolute lifetime. */
  signedInAt?: number;
}

export const SESSION_COOKIE = 'tickethub_session';

/** Absolute session lifetime: one working day. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

/**
 * The iron-session options, or AppError('config') when SESSION_SECRET is unset or shorter than
 * 32 characters: sign-in then refuses to work rather than fall back to a guessable key.
 * The cookie is Secure when the request came over HTTPS (`requestIsHttps`): a browser drops a
 * Secure cookie set over plain http (a LAN address such as http://192.0.2.2:3000), which left
 * sign-in "Signing in…" forever. SESSION_COOKIE_SECURE=true|false overrides it either way.
 */
export function sessionOptions(https = true): SessionOptions {
  const secret = process.env.SESSION_SECRET;
  if (!secret) throw new AppError('config', 'SESSION_SECRET is not set');
  const weak = sessionSecretProblem(secret);
  if (weak) throw new AppError('config', `SESSION_SECRET ${weak}`);
  const override = process.env.SESSION_COOKIE_SECURE?.trim().toLowerCase();
  const secure = override === 'true' || override === '1' ? true : override === 'false' || override === '0' ? false : https;
  return {
    password: secret,
    cookieName: SESSION_COOKIE,
    ttl: SESSION_TTL_SECONDS,
    cookieOptions: { httpOnly: true, sameSite: 'lax', secure, path: '/' },
  };
}

/**
 * Why `secret` cannot key the session cookie, or null. Length alone let 32 spaces (a padded blank
 * in an env file) or one character repeated through: keys anyone can guess, i.e. forged sessions.
 * Shared with the launcher (scripts/start.ts), which refuses it before serving.
 */
export function sessionSecretProblem(secret: string): string | null {
  if (secret.trim().length < 32) return 'must be at least 32 characters (not counting spaces around it)';
  if (/^(.)\1*$/su.test(secret.trim())) return 'is one character repeated: generate one with `openssl rand -hex 32`';
  return null;
}

/** True when a session's sign-in time is within the absolute lifetime. */
export function sessionIsFresh(s: SessionData, now = Date.now()): boolean {
  return typeof s.signedInAt === 'number' && now - s.signedInAt < SESSION_TTL_SECONDS * 1000;
}

/**
 * Whether the browser reached the app over HTTPS: the connection itself (set by the server hook,
 * lib/http/peer-address.ts), or — only with TRUST_PROXY_HOPS > 0, i.e. behind a proxy that sets
 * it — X-Forwarded-Proto: https (the value the nearest proxy wrote, the last in the list).
 */
export function requestIsHttps(headers: Headers): boolean {
  if (peerHookInstalled() && headers.get(PEER_PROTO_HEADER) === 'https') return true;
  const hops = Math.trunc(Number(process.env.TRUST_PROXY_HOPS ?? 0) || 0);
  if (hops <= 0) return false;
  const proto = (headers.get('x-forwarded-proto') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return proto[proto.length - 1] === 'https';
}
