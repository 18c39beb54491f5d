import type { SessionOptions } from 'iron-session';
import { AppError } from '../errors';

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
 * Secure cookies in production unless SESSION_COOKIE_SECURE=false (plain-http LAN demo).
 */
export function sessionOptions(): SessionOptions {
  const secret = process.env.SESSION_SECRET;
  if (!secret) throw new AppError('config', 'SESSION_SECRET is not set');
  if (secret.length < 32) throw new AppError('config', 'SESSION_SECRET must be at least 32 characters');
  const secure = process.env.SESSION_COOKIE_SECURE
    ? process.env.SESSION_COOKIE_SECURE !== 'false'
    : process.env.NODE_ENV === 'production';
  return {
    password: secret,
    cookieName: SESSION_COOKIE,
    ttl: SESSION_TTL_SECONDS,
    cookieOptions: { httpOnly: true, sameSite: 'lax', secure, path: '/' },
  };
}

/** True when a session's sign-in time is within the absolute lifetime. */
export function sessionIsFresh(s: SessionData, now = Date.now()): boolean {
  return typeof s.signedInAt === 'number' && now - s.signedInAt < SESSION_TTL_SECONDS * 1000;
}
