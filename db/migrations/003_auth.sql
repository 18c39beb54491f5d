-- Sign-in attempts, for throttling password guessing (5 failures per email and client address in
-- 15 minutes). Kept in the database, not in process memory, so the limit holds across app instances
-- and restarts.
CREATE TABLE public.login_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  ip text NOT NULL,
  attempted_at timestamptz NOT NULL DEFAULT now(),
  success boolean NOT NULL
);
-- The throttle looks up one (email, ip) pair's recent attempts; emails are compared lower-cased.
CREATE INDEX login_attempts_lookup_idx ON public.login_attempts (lower(email), ip, attempted_at DESC);
COMMENT ON TABLE public.login_attempts IS 'Admin sign-in attempts (no passwords), for throttling';
