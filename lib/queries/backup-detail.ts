import type { Queryable } from '../activity/log-activity';
import { BACKUP_ID_RE } from '../backup/manifest';
import type { Manifest } from '../backup/manifest';
import type { BackupProgress } from '../backup/backup-progress';
import { AppError } from '../errors';
import { currentRun, runRow } from '../backup/backup-runs';
import { recordedSignature } from '../backup/backup-signature';
import type { BackupSignature } from '../backup/backup-signature';

/** One backup as GET /api/admin/backups/{id} and the event stream's `done` event return it. */
export interface BackupDetail {
  id: string;
  status: 'running' | 'succeeded' | 'failed' | 'deleted';
  trigger: string;
  description: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  rows: number | null;
  sizeBytes: number | null;
  /** SHA-256 of the archive file. */
  sha256: string | null;
  /**
   * The last check: ok and when (null: never verified). scope 'stored-bytes': the backup's own
   * read-back (stored bytes identical to what was written); 'full': `verify` (every member
   * decompressed and checked).
   */
  verified: { ok: boolean; at: string; problems: number; scope: 'stored-bytes' | 'full' } | null;
  /** The last restore drill (null: none ran). */
  drill: { ok: boolean; at: string; error: string | null; durationMs: number | null } | null;
  /** Why it failed (one line), null otherwise. */
  error: string | null;
  /** Per table: rows and the compressed bytes its data takes in the archive. */
  tables: { name: string; rows: number; bytes: number }[];
  /** Live progress while running (null otherwise or before the first report). */
  progress: BackupRunProgress | null;
  /** Warnings the backup recorded (e.g. an unsigned manifest), when any. */
  warnings?: string[];
  /** Signature state (lib/backup/backup-signature.ts); null while running, after a failure, or without a recorded manifest. */
  signature: BackupSignature | null;
}

/**
 * What the running backup writes to backup_runs.progress (see progress-recorder.ts): the engine's
 * BackupProgress without its id (the row has it), phase as stored text.
 */
export type BackupRunProgress = Omit<BackupProgress, 'id' | 'phase'> & { phase: string };

/** Refuses a path segment that is not a backup id with 400 before any lookup. */
export function parseBackupId(id: string): string {
  if (!BACKUP_ID_RE.test(id)) throw new AppError('bad_request', `not a backup id: ${JSON.stringify(id.slice(0, 60))} (expected e.g. 20261125T020000Z-ab12cd34)`);
  return id;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function tablesOf(m: Manifest | null): BackupDetail['tables'] {
  if (!m?.tables) return [];
  return m.tables.map((t) => ({
    name: t.schema === 'public' ? t.name : `${t.schema}.${t.name}`,
    rows: t.rows,
    bytes: t.entries.reduce((s, i) => s + (m.entries[i]?.length ?? 0), 0),
  }));
}

/** The backup_runs row of `id` as BackupDetail; AppError 'not_found' when there is none. */
export async function backupDetail(db: Queryable, id: string): Promise<BackupDetail> {
  const r = await runRow(db, parseBackupId(id));
  if (!r) throw new AppError('not_found', `no backup ${id}`);
  const v = r.verification as { ok?: boolean; problems?: unknown[]; scope?: string } | null;
  const d = r.drill as { ok?: boolean; error?: string | null; durationMs?: number } | null;
  const m = r.manifest as (Manifest & { warnings?: string[] }) | null;
  const detail: BackupDetail = {
    id: r.id,
    status: r.status,
    trigger: r.trigger,
    description: r.description,
    startedAt: iso(r.started_at)!,
    finishedAt: iso(r.finished_at),
    durationMs: num(r.duration_ms),
    rows: num(r.row_count),
    sizeBytes: num(r.size_bytes),
    sha256: r.sha256,
    verified: v && r.verified_at ? { ok: v.ok === true, at: iso(r.verified_at)!, problems: Array.isArray(v.problems) ? v.problems.length : 0, scope: v.scope === 'stored-bytes' ? 'stored-bytes' : 'full' } : null,
    drill: d && r.drill_at ? { ok: d.ok === true, at: iso(r.drill_at)!, error: d.error ?? null, durationMs: d.durationMs ?? null } : null,
    error: r.error,
    tables: tablesOf(m),
    progress: r.status === 'running' ? (r.progress as BackupRunProgress | null) ?? null : null,
    signature: r.status === 'succeeded' && m ? recordedSignature({ manifest: m, verifiedSignature: (r.verification as { signature?: string } | null)?.signature ?? null }) : null,
  };
  if (Array.isArray(m?.warnings) && m.warnings.length) detail.warnings = m.warnings;
  return detail;
}

/** The id of the backup running now (newest 'running' row), or null. */
export async function runningBackupId(db: Queryable): Promise<string | null> {
  return (await currentRun(db))?.id ?? null;
}
