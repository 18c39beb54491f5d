import type pg from 'pg';
import { logActivity } from '../activity/log-activity';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { hasBackupRuns, markRunDeleted, retentionRows, withBackupLockHeld } from './backup-runs';
import { recordedSignature } from './backup-signature';
import { removeLeftovers } from './leftovers';
import { signingNotice } from './manifest-signature';
import { listBackups } from './list-backups';
import { planRetention } from './retention';
import { ArchiveLeftBehind, removeBackupFiles } from './remove-backup';
import type { RetentionCandidate, RetentionDecision, RetentionPolicy } from './retention';

/** Defaults of the retention policy applied after every scheduled backup and by `prune`. */
export const RETENTION_DEFAULTS = { keepDays: 30, keepLast: 7, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 } as const;

export type RetentionSettings = Omit<RetentionPolicy, 'now'> & Required<Pick<RetentionPolicy, 'keepDaily' | 'keepWeekly' | 'keepMonthly'>>;

const VARS = {
  keepDays: 'BACKUP_RETENTION_DAYS',
  keepLast: 'BACKUP_RETENTION_MIN',
  keepDaily: 'BACKUP_KEEP_DAILY',
  keepWeekly: 'BACKUP_KEEP_WEEKLY',
  keepMonthly: 'BACKUP_KEEP_MONTHLY',
} as const;

/** The policy in effect: overrides, else BACKUP_RETENTION_DAYS/_MIN and BACKUP_KEEP_DAILY/WEEKLY/MONTHLY, else the defaults. */
export function retentionSettings(opts: Partial<RetentionSettings> & { env?: Record<string, string | undefined> } = {}): RetentionSettings {
  const env = opts.env ?? process.env;
  const out = { ...RETENTION_DEFAULTS } as RetentionSettings;
  for (const [k, name] of Object.entries(VARS) as [keyof RetentionSettings, string][]) {
    const given = opts[k];
    if (given !== undefined) {
      out[k] = given;
      continue;
    }
    const raw = env[name]?.trim();
    if (!raw) continue;
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new AppError('config', `${name} must be a whole number of ${name.endsWith('DAYS') ? 'days' : 'backups'} >= 0, got ${JSON.stringify(raw)}`);
    }
    out[k] = Number(raw);
  }
  return out;
}

export interface PruneItem extends RetentionDecision {
  action: 'keep' | 'remove';
  startedAt: string;
  status: string;
}

export interface PruneResult {
  /** Every backup judged, newest first, with keep/remove and the reason. */
  items: PruneItem[];
  kept: number;
  /** Removed completely (storage objects deleted, row marked deleted). Empty with dryRun. */
  removed: RetentionDecision[];
  /** Planned for removal but not (fully) removed; retried by the next run. */
  failed: { id: string; error: string }[];
}

const message = (err: unknown) => oneLine(toAppError(err).message);

/**
 * What retention judges: the succeeded backups in storage (the source of truth: an archive that
 * is unreadable or untrusted there is never good, whatever backup_runs says) plus the failed/running
 * rows of backup_runs; a succeeded backup whose verification or drill failed is not good.
 */
export async function retentionCandidates(db: Pick<pg.ClientBase, 'query'> | null, storage: StorageBackend): Promise<Map<string, RetentionCandidate>> {
  const candidates = new Map<string, RetentionCandidate>();
  // While BACKUP_SIGNING_KEY is set, a backup verify and restore would refuse (unsigned, another
  // key) is never a good backup: anyone who can write to the storage could otherwise plant a
  // "newest good backup" that retention keeps instead of the real ones.
  const signing = signingNotice().configured;
  for (const b of await listBackups(storage)) {
    // 'untrusted' (listBackups checked the signature): a candidate retention may remove, never a good one.
    if ((b.status !== 'succeeded' && b.status !== 'untrusted') || !b.startedAt) continue;
    const refused = b.status === 'untrusted' || (signing && recordedSignature({ signature: b.manifest?.signature ?? null }).refused);
    candidates.set(b.id, { id: b.id, startedAt: new Date(b.startedAt), status: 'succeeded', ...(refused ? { good: false } : {}) });
  }
  const recording = db ? await hasBackupRuns(db) : false;
  if (db && recording) {
    for (const r of await retentionRows(db)) {
      const known = candidates.get(r.id);
      // Storage is the source of truth for existence; the row knows whether it verified/drilled.
      if (known) known.good = known.good !== false && r.good;
      else if (r.status !== 'succeeded') candidates.set(r.id, { id: r.id, startedAt: r.startedAt, status: r.status });
    }
  }
  return candidates;
}

/**
 * Retention, the one implementation (scheduled job and `prune`): candidates are the succeeded
 * backups in storage (the source of truth) plus the failed/running rows of backup_runs; a
 * succeeded backup whose verification or drill failed is not good (retention.ts). Archives without
 * a manifest that no row explains, and unreadable manifests, are left alone. A removed backup
 * loses its manifest first, then its archive (a half-deleted backup is never listed as good); its
 * row stays as `deleted` (when, why). One BACKUP_RETENTION activity row lists what was removed.
 * Throws only when the plan cannot be made (storage unlistable, bad settings).
 */
export async function pruneBackups(
  db: Pick<pg.ClientBase, 'query'> | null,
  storage: StorageBackend,
  policy: RetentionSettings & { now: Date; dryRun?: boolean },
): Promise<PruneResult> {
  // Killed runs' leftovers and stuck 'running' rows first (only when no backup is running).
  if (db && !policy.dryRun) await withBackupLockHeld(db, () => removeLeftovers(db, storage)).catch(() => null);
  const candidates = await retentionCandidates(db, storage);
  const recording = db ? await hasBackupRuns(db) : false;
  const plan = planRetention([...candidates.values()], policy);
  const at = (id: string) => candidates.get(id)!;
  const items: PruneItem[] = [
    ...plan.keep.map((d) => ({ ...d, action: 'keep' as const })),
    ...plan.remove.map((d) => ({ ...d, action: 'remove' as const })),
  ]
    .map((d) => ({ ...d, startedAt: at(d.id).startedAt.toISOString(), status: at(d.id).good === false ? 'not verified' : at(d.id).status }))
    .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? 1 : -1));
  const result: PruneResult = { items, kept: plan.keep.length, removed: [], failed: [] };
  if (policy.dryRun) return result;

  for (const d of plan.remove) {
    try {
      await removeBackupFiles(storage, d.id);
      if (db && recording) await markRunDeleted(db, d.id, `retention: ${d.reason}`);
      result.removed.push(d);
    } catch (err) {
      result.failed.push({ id: d.id, error: message(err) });
      if (err instanceof ArchiveLeftBehind && db && recording) await markRunDeleted(db, d.id, `retention: ${d.reason}; ${err.message}`).catch(() => {});
    }
  }
  if (db && recording && (result.removed.length || result.failed.length)) {
    const days = `${policy.keepDays} day${policy.keepDays === 1 ? '' : 's'}`;
    const n = result.removed.length;
    await logActivity(db, {
      action: 'BACKUP_RETENTION',
      entityType: 'system',
      description:
        `Retention (keep ${days}, at least ${policy.keepLast}): removed ${n} backup${n === 1 ? '' : 's'}` +
        (n ? ` (${result.removed.map((r) => r.id).join(', ')})` : '') +
        (result.failed.length ? `; could not remove ${result.failed.map((f) => f.id).join(', ')}` : ''),
      ipAddress: 'system-automation',
      userAgent: 'backup-cron-job',
      metadata: { ...policy, now: policy.now.toISOString(), kept: result.kept, removed: result.removed, failed: result.failed },
    }).catch(() => {});
  }
  return result;
}

/**
 * Ids of the newest `keepLast` good backups (at least one) judged as retention judges them (storage
 * is the truth, retentionCandidates): what retention keeps whatever their age, so an admin may not
 * delete them either. Never a backup that storage cannot restore, even if its row says good.
 */
export async function newestGoodBackupIds(db: Pick<pg.ClientBase, 'query'> | null, storage: StorageBackend, keepLast: number): Promise<string[]> {
  return [...(await retentionCandidates(db, storage)).values()]
    .filter((c) => c.status === 'succeeded' && c.good !== false)
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1))
    .slice(0, Math.max(1, keepLast))
    .map((c) => c.id);
}
