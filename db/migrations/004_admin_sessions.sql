-- Server-side record of admin sign-in sessions. The cookie (sealed by iron-session) only carries a
-- random session id; keeping the session here means signing out, or resetting a password, ends it
-- for real instead of leaving a copied cookie valid until it expires.
CREATE TABLE public.admin_sessions (
  id_hash text PRIMARY KEY, -- SHA-256 of the session id: a database dump alone cannot resume a session
  admin_user_id uuid NOT NULL REFERENCES public.admin_users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  ip_address text,
  user_agent text,
  CONSTRAINT admin_sessions_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX admin_sessions_user_idx ON public.admin_sessions (admin_user_id) WHERE revoked_at IS NULL;
CREATE INDEX admin_sessions_expires_idx ON public.admin_sessions (expires_at);
COMMENT ON TABLE public.admin_sessions IS 'Admin web sessions (hashed ids), revocable on sign-out and password reset';
