import type { Queryable } from '../activity/log-activity';

/** Failures allowed per (email, client address) inside the window before sign-in answers 429. */
export const MAX_FAILURES = 5;
/** The throttling window. */
export const WINDOW_MINUTES = 15;

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
  return r.failures >= MAX_FAILURES ? Math.max(1, r.wait ?? 1) : 0;
}

/** Records one attempt (never the password). Old rows beyond a day are pruned on the way. */
export async function recordLoginAttempt(db: Queryable, email: string, ip: string, success: boolean): Promise<void> {
  await db.query(`INSERT INTO public.login_attempts (email, ip, success) VALUES ($1, $2, $3)`, [email.trim().slice(0, 320), ip, success]);
  // Cheap housekeeping so the table stays small without a separate job; the window is 15 minutes.
  if (Math.random() < 0.05) await db.query(`DELETE FROM public.login_attempts WHERE attempted_at < now() - interval '1 day'`);
}
