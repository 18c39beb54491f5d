import type { Queryable } from '../activity/log-activity';

/** Failures allowed per (email, client address) inside the window before sign-in answers 429. */
export const MAX_FAILURES = 5;
/** The throttling window. */
export const WINDOW_MINUTES = 15;

/** Failures for one account (from any addresses) that cost nothing beyond the per-address limit. */
export const ACCOUNT_FREE_FAILURES = 10;
/** The first account-wide wait; each further failure doubles it. */
export const ACCOUNT_BASE_WAIT_SECONDS = 30;
/** The longest an account-wide backoff makes anyone wait (15 minutes). */
export const ACCOUNT_MAX_WAIT_SECONDS = 15 * 60;
/** An address the account signed in from within this many days is exempt from the account backoff. */
export const TRUSTED_ADDRESS_DAYS = 30;

/**
 * Per-account exponential backoff, independent of the address (guessing one password from many
 * addresses): after ACCOUNT_FREE_FAILURES failures since the account's last success (within a
 * day), each further attempt must wait 30 s × 2^(failures - free) after the previous failure,
 * capped at ACCOUNT_MAX_WAIT_SECONDS; attempts refused during a wait are not counted. So an
 * attacker gets about 100 guesses a day per account however many addresses they have.
 * It cannot lock the real admin out for long: the wait never exceeds 15 minutes, and an address
 * the account signed in from in the last TRUSTED_ADDRESS_DAYS days skips the account backoff
 * altogether (only its own per-address limit applies) — an attacker cannot sign in from the
 * admin's address, and with TRUST_PROXY_HOPS=0 cannot claim it either.
 */
export async function accountWaitSeconds(db: Queryable, email: string, ip: string): Promise<number> {
  const { rows } = await db.query<{ trusted: boolean; failures: number; last_fail: Date | null }>(
    `WITH acct AS (
       SELECT attempted_at, success, ip FROM public.login_attempts
        WHERE lower(email) = lower($1) AND attempted_at > now() - make_interval(days => $3)
     ), since AS (
       SELECT attempted_at FROM acct
        WHERE NOT success AND attempted_at > now() - interval '1 day'
          AND attempted_at > COALESCE((SELECT max(attempted_at) FROM acct WHERE success), '-infinity')
     )
     SELECT EXISTS (SELECT 1 FROM acct WHERE success AND ip = $2) AS trusted,
            (SELECT count(*)::int FROM since) AS failures,
            (SELECT max(attempted_at) FROM since) AS last_fail`,
    [email.trim(), ip, TRUSTED_ADDRESS_DAYS],
  );
  const r = rows[0];
  if (r.trusted || r.failures < ACCOUNT_FREE_FAILURES || !r.last_fail) return 0;
  const wait = Math.min(ACCOUNT_BASE_WAIT_SECONDS * 2 ** (r.failures - ACCOUNT_FREE_FAILURES), ACCOUNT_MAX_WAIT_SECONDS);
  const left = Math.ceil((new Date(r.last_fail).getTime() + wait * 1000 - Date.now()) / 1000);
  return Math.max(0, left);
}

/**
 * Seconds until this (email, ip) may try again, or 0 when it may try now. Counts failures inside
 * the window that came after the pair's last success, so signing in correctly clears the count.
 * When blocked, the wait ends when the oldest of the last MAX_FAILURES failures leaves the window.
 */
export async function throttleWaitSeconds(db: Queryable, email: string, ip: string): Promise<number> {
  const { rows } = await db.query<{ failures: number; wait: number | null }>(
    `WITH recent AS (
       SELECT attempted_at, success FROM public.login_attempts
        WHERE lower(email) = lower($1) AND ip = $2 AND attempted_at > now() - make_interval(mins => $3)
     ), fails AS (
       SELECT attempted_at FROM recent
        WHERE NOT success AND attempted_at > COALESCE((SELECT max(attempted_at) FROM recent WHERE success), '-infinity')
        ORDER BY attempted_at DESC LIMIT $4
     )
     SELECT count(*)::int AS failures,
            ceil(extract(epoch FROM (min(attempted_at) + make_interval(mins => $3) - now())))::int AS wait
       FROM fails`,
    [email.trim(), ip, WINDOW_MINUTES, MAX_FAILURES],
  );
  const r = rows[0];
  if (r.failures >= MAX_FAILURES) return Math.max(1, r.wait ?? 1);
  return accountWaitSeconds(db, email, ip);
}

/** Records one attempt (never the password). Old rows beyond a day are pruned on the way. */
export async function recordLoginAttempt(db: Queryable, email: string, ip: string, success: boolean): Promise<void> {
  await db.query(`INSERT INTO public.login_attempts (email, ip, success) VALUES ($1, $2, $3)`, [email.trim().slice(0, 320), ip, success]);
  // Cheap housekeeping so the table stays small without a separate job; the window is 15 minutes.
  if (Math.random() < 0.05) await db.query(`DELETE FROM public.login_attempts WHERE attempted_at < now() - interval '1 day'`);
}
