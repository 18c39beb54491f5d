-- Operations of the scheduled backups (issue 11).
--
-- 1. backup_runs learns who started a run on a schedule ('schedule' = the in-process scheduler of
--    `npm start`, 'cron' = the HTTP cron route, 'cli' also covers `tickethub-backup run-scheduled`)
--    and that a backup can be deleted by retention or an admin while its history row stays.
ALTER TABLE public.backup_runs DROP CONSTRAINT backup_runs_trigger_check;
ALTER TABLE public.backup_runs ADD CONSTRAINT backup_runs_trigger_check CHECK (trigger IN ('cron', 'manual', 'cli', 'schedule'));
ALTER TABLE public.backup_runs DROP CONSTRAINT backup_runs_status_check;
ALTER TABLE public.backup_runs ADD CONSTRAINT backup_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'deleted'));
ALTER TABLE public.backup_runs ADD COLUMN deleted_at timestamptz;
ALTER TABLE public.backup_runs ADD COLUMN deleted_reason text;
-- The status the run had before it was deleted (succeeded/failed): history keeps telling them apart.
ALTER TABLE public.backup_runs ADD COLUMN deleted_from text;
ALTER TABLE public.backup_runs ADD CONSTRAINT backup_runs_deleted_check CHECK ((status = 'deleted') = (deleted_at IS NOT NULL));

-- 2. The exactly-once ledger: one row per (schedule, slot). The primary key is what makes a second
--    delivery of the same slot (Vercel delivering twice, two app instances firing together,
--    run-scheduled started twice) a no-op: whoever inserts the row runs the slot.
CREATE TABLE public.backup_schedule_slots (
  schedule text NOT NULL,           -- the cron expression and its time zone, e.g. '0 2 * * * UTC'
  slot timestamptz NOT NULL,        -- the latest time the schedule fired at or before the claim
  source text NOT NULL,             -- 'schedule' | 'cron' | 'cli'
  claimed_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running',
  backup_id text,
  error text,
  PRIMARY KEY (schedule, slot),
  CONSTRAINT backup_schedule_slots_status_check CHECK (status IN ('running', 'succeeded', 'failed')),
  CONSTRAINT backup_schedule_slots_source_check CHECK (source IN ('schedule', 'cron', 'cli'))
);
CREATE INDEX backup_schedule_slots_claimed_idx ON public.backup_schedule_slots (claimed_at DESC);
COMMENT ON TABLE public.backup_schedule_slots IS 'Exactly-once ledger of scheduled backup slots';

-- 3. Alert incidents: one row per alert kind. An open incident has opened_at set; its first
--    failure alerted, later failures of the same kind do not, and the first success closes it with
--    one backup_recovered. Kept in the database so it survives restarts (storage holds a copy for
--    nights when the database is the thing that is down).
CREATE TABLE public.backup_alert_state (
  kind text PRIMARY KEY,            -- 'backup_failed' | 'verify_failed' | 'drill_failed' | 'backup_stale' | 'anomaly'
  opened_at timestamptz,
  last_seen_at timestamptz,
  failures integer NOT NULL DEFAULT 0,
  backup_id text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.backup_alert_state IS 'Open backup alert incidents (once-per-incident alerts)';
