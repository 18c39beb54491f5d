import { readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { StorageBackend } from '../storage/storage-backend';
import { backupIdTime } from './backup-id';
import { deadRunIds, upsertRunFromManifest } from './backup-runs';
import { readManifest } from './list-backups';
import { BACKUP_ID_RE, archiveKey, encryptedArchiveKey, manifestKey } from './manifest';

/**
 * How a failed run's error ends when storage was down while it cleaned up (run-backup.ts): what it
 * stored (even a manifest whose upload's answer was lost) is removed by the next run.
 */
export const CLEANUP_PENDING = '(storage could not be cleaned up now: the next backup removes what this run left)';

/** Leftovers of ids this database does not know are removed only once this old (another database's live run?). */
const UNKNOWN_RUN_AGE_MS = 2 * 24 * 3600 * 1000;

export interface LeftoversRemoved {
  /** Temp files / incomplete multipart uploads removed from storage (by key). */
  storage: string[];
  /** Spool directories removed from the temp dir. */
  spools: string[];
  /** Archives without a manifest of runs recorded failed or deleted (a removal that could not finish). */
  archives: string[];
  /** What could not be removed now (storage down): retried by the next run. */
  failed: string[];
  /**
   * Runs recorded failed as interrupted whose manifest IS in storage (the process stopped after
   * storing it, before recording it): recorded succeeded from their manifest, as `reindex` does,
   * so backup_runs agrees with `list`. Not marked verified: `verify` or a drill does that.
   */
  recorded: string[];
}

const idOf = (key: string) => {
  const id = key.split('/').pop()!.split('.')[0];
  return BACKUP_ID_RE.test(id) ? id : null;
};

/**
 * Removes what killed or failed runs left behind: storage temp files and incomplete multipart
 * uploads, spool directories, and archives of failed runs whose deletion failed (storage outage).
 * A leftover is removed only when its run is provably dead: the caller holds the backup lock (so
 * no run of this database is alive) and this database recorded the run (not `running` any more:
 * call failStaleRuns first), or, for runs this database does not know, when it is two days old.
 * `currentId` (the caller's own run) is never touched. Never throws.
 */
export async function removeLeftovers(db: Pick<pg.ClientBase, 'query'>, storage: StorageBackend, opts: { currentId?: string; spoolParent?: string } = {}): Promise<LeftoversRemoved> {
  const out: LeftoversRemoved = { storage: [], spools: [], archives: [], failed: [], recorded: [] };
  const dead = await deadRunIds(db, CLEANUP_PENDING).catch(() => ({ all: new Set<string>(), failed: new Set<string>(), deleted: new Set<string>(), interrupted: new Map<string, string>(), cleanupPending: new Set<string>() }));
  const isDead = (id: string | null) => {
    if (!id || id === opts.currentId) return false;
    if (dead.all.has(id)) return true;
    const at = backupIdTime(id);
    return at !== null && Date.now() - at.getTime() > UNKNOWN_RUN_AGE_MS;
  };

  try {
    for (const t of (await storage.listIncomplete?.()) ?? []) {
      if (!isDead(idOf(t.key))) continue;
      await storage.removeIncomplete!(t.ref).then(
        () => out.storage.push(t.key),
        () => out.failed.push(t.key),
      );
    }
  } catch {
    // (a service without ListMultipartUploads: its lifecycle rule cleans those; archives below still go)
    out.failed.push('(incomplete uploads not listable)');
  }
  try {
    // A failed run whose manifest upload reached storage although the run saw it fail (the answer
    // was lost in an outage): the run said failed and could not delete it; one truth: remove it,
    // manifest first (it is what makes a backup exist).
    for (const id of dead.cleanupPending) {
      if (id === opts.currentId) continue;
      const m = manifestKey(id);
      if (!(await storage.stat(m).then(() => true, () => false))) continue;
      await storage.delete(m).then(
        () => out.archives.push(m),
        () => out.failed.push(m),
      );
    }
    const objects = await storage.list();
    const keys = new Set(objects.map((o) => o.key));
    // One truth: a run recorded "interrupted" whose manifest is in storage is a backup that exists
    // (the manifest is stored only after the check after writing passed); record it as succeeded.
    for (const [id, trigger] of dead.interrupted) {
      if (id === opts.currentId || !keys.has(manifestKey(id))) continue;
      try {
        const m = await readManifest(storage, id);
        const key = m.encryption ? encryptedArchiveKey(id) : archiveKey(id);
        if (!keys.has(key)) continue; // manifest without archive: `list` shows it broken, verify says why
        await upsertRunFromManifest(db, m, `${storage.location.replace(/\/$/, '')}/${key}`, trigger);
        dead.failed.delete(id);
        out.recorded.push(id);
      } catch {
        // an unreadable manifest stays as it is: `list` shows it, the row stays failed
      }
    }
    for (const o of objects) {
      const id = idOf(o.key);
      if (!id || (o.key !== archiveKey(id) && o.key !== encryptedArchiveKey(id)) || keys.has(manifestKey(id)) || !(dead.failed.has(id) || dead.deleted.has(id)) || id === opts.currentId) continue;
      await storage.delete(o.key).then(
        () => out.archives.push(o.key),
        () => out.failed.push(o.key),
      );
    }
  } catch {
    out.failed.push('(storage not listable)');
  }

  // turbopackIgnore: the spool directory is data chosen at run time; without the hints Turbopack
  // traces the whole project into every server function that can run a backup.
  const parent = opts.spoolParent ?? (process.env.BACKUP_SPOOL_DIR || os.tmpdir());
  try {
    for (const name of await readdir(/* turbopackIgnore: true */ parent)) {
      const m = /^tickethub-backup-(\d{8}T\d{6}Z-[0-9a-z]+)-/.exec(name);
      if (!m || !isDead(m[1])) continue;
      const spool = path.join(/* turbopackIgnore: true */ parent, name);
      await rm(/* turbopackIgnore: true */ spool, { recursive: true, force: true }).then(
        () => out.spools.push(name),
        () => out.failed.push(spool),
      );
    }
  } catch {
    // an unreadable temp dir is not the backup's problem
  }
  return out;
}
