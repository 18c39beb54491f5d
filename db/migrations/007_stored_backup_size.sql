-- A backup's size is the archive file as stored: for an encrypted backup the ciphertext
-- (<id>.sql.gz.age), not the gzip inside it (lib/backup/manifest.ts storedSizeBytes). Runs
-- recorded before this rule kept the gzip's size; take the stored size from their manifest.
UPDATE public.backup_runs
   SET size_bytes = (manifest #>> '{encryption,ciphertext,sizeBytes}')::bigint
 WHERE manifest #>> '{encryption,ciphertext,sizeBytes}' IS NOT NULL
   AND size_bytes IS DISTINCT FROM (manifest #>> '{encryption,ciphertext,sizeBytes}')::bigint;
