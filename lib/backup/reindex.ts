import pg from 'pg';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { hasBackupRuns, insertFailedRun, withBackupLockHeld, markRunMissing, succeededRunsNotIn, upsertRunFromManifest } from './backup-runs';
import { failedKey, readFailedMarker } from './failed-marker';
import { removeLeftovers } from './leftovers';
import { listBackups, readManifest } from './list-backups';
import { archiveKey, encryptedArchiveKey } from './manifest';

export interface ReindexResult {
  /** Backups in storage now recorded as succeeded (inserted or refreshed). */
  upserted: string[];
  /** Rows recorded 'succeeded' whose manifest is no longer in storage, now marked failed. */
  missing: string[];
  /** Failures written to storage while the database was down (`<id>.failed.json`), now rows. */
  failed: string[];
  /** Objects in storage that are not usable backups (no manifest, unreadable manifest). */
  skipped: { id: string; reason: string }[];
}

export const MISSING_FROM_STORAGE = 'missing from storage: its manifest is no longer there (deleted or moved)';

/**
 * Rebuilds `backup_runs` from the manifests in storage (storage is the source of truth). Choice for
 * rows whose files are gone: they are marked failed with MISSING_FROM_STORAGE rather than deleted,
 * so the history (and who triggered what) stays visible and the dashboard never offers them.
 * Rows of other locations are judged only by this storage: run it with the storage the app uses.
 * Running rows are left alone (they belong to a live backup or to stale-run recovery).
 */
export async function reindex(storage: StorageBackend, databaseUrl: string): Promise<ReindexResult> {
  const backups = await listBackups(storage);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tickethub-backup reindex' });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw toAppError(err, 'cannot connect to the database');
  }
  const result: ReindexResult = { upserted: [], missing: [], failed: [], skipped: [] };
  try {
    if (!(await hasBackupRuns(client))) throw new AppError('config', 'cannot reindex: the database has no public.backup_runs table (run the migrations first) or is read-only');
    // Stuck 'running' rows of dead runs fail and their leftovers go (only when no backup is running).
    await withBackupLockHeld(client, () => removeLeftovers(client, storage)).catch(() => null);
    await client.query('BEGIN');
    const present = new Set<string>();
    for (const b of backups) {
      if (b.status === 'failed') continue;
      if (b.status !== 'succeeded' || !b.manifest) {
        result.skipped.push({ id: b.id, reason: b.status === 'incomplete' ? 'archive without manifest (incomplete)' : (b.error ?? 'unreadable manifest') });
        continue;
      }
      // The row keeps the whole manifest (the dashboard reads its tables): list gave its summary only.
      let full;
      try {
        full = await readManifest(storage, b.id);
      } catch (err) {
        result.skipped.push({ id: b.id, reason: oneLine((err as Error).message) });
        continue;
      }
      present.add(b.id);
      const trigger = ['cron', 'schedule', 'manual', 'cli'].includes(b.manifest.trigger) ? b.manifest.trigger : 'cli';
      await upsertRunFromManifest(client, full, `${storage.location.replace(/\/$/, '')}/${b.manifest.encryption ? encryptedArchiveKey(b.id) : archiveKey(b.id)}`, trigger);
      result.upserted.push(b.id);
    }
    for (const id of await succeededRunsNotIn(client, [...present])) {
      await markRunMissing(client, id, MISSING_FROM_STORAGE);
      result.missing.push(id);
    }
    for (const b of backups.filter((x) => x.status === 'failed')) {
      const marker = await readFailedMarker(storage, b.id).catch(() => null);
      if (marker && (await insertFailedRun(client, marker))) result.failed.push(b.id);
    }
    await client.query('COMMIT');
    // Folded into backup_runs: the storage copy of the failure is no longer needed.
    for (const id of result.failed) await storage.delete(failedKey(id)).catch(() => {});
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw toAppError(err, 'reindex failed');
  } finally {
    await client.end().catch(() => {});
  }
}
