-- Bookkeeping of the backup system: an index of what storage holds (storage is the source of
-- truth; `tickethub-backup reindex` rebuilds this table from the manifests).
CREATE TABLE public.backup_runs (
  id text PRIMARY KEY,
  trigger text NOT NULL,
  triggered_by uuid REFERENCES public.admin_users (id) ON DELETE SET NULL,
  description text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT 'running',
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  duration_ms integer,
  table_count integer,
  row_count bigint,
  size_bytes bigint,
  storage_location text,
  sha256 text,
  error text,
  manifest jsonb,
  verified_at timestamptz,
  verification jsonb,
  drill_at timestamptz,
  drill jsonb,
  CONSTRAINT backup_runs_trigger_check CHECK (trigger IN ('cron', 'manual', 'cli')),
  CONSTRAINT backup_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed')),
  CONSTRAINT backup_runs_finished_check CHECK (status = 'running' OR finished_at IS NOT NULL),
  CONSTRAINT backup_runs_id_format CHECK (id ~ '^[0-9]{8}T[0-9]{6}Z-[0-9a-z]+$')
);
CREATE INDEX backup_runs_started_idx ON public.backup_runs (started_at DESC);
CREATE INDEX backup_runs_status_idx ON public.backup_runs (status, started_at DESC);
