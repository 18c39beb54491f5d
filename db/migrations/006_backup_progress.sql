-- Live progress of a running backup, written by the process running it (about once a second) so
-- that any server instance can stream it to the dashboard (GET /api/admin/backups/{id}/events).
ALTER TABLE public.backup_runs
  ADD COLUMN progress jsonb,
  ADD COLUMN progress_at timestamptz;

