import type pg from 'pg';
import { backupHealth, maxAgeHoursFromEnv } from '../backup/backup-health';
import type { BackupHealth } from '../backup/backup-health';
import { backupHealthFacts, currentRun, recentFinishedRuns, recentSucceededRuns, type FinishedRun } from '../backup/backup-runs';
import { drillPolicyFromEnv } from '../backup/drill';
import { encryptionStatus } from '../backup/encryption/encryption-keys';
import { signingNotice } from '../backup/manifest-signature';
import { retentionSettings } from '../backup/run-scheduled-backup';
import { describeSchedule, nextRun, scheduleFromEnv } from '../backup/schedule';
import { oneLine } from '../errors';
import { describeStorage } from '../storage/open-storage';
import { backupHistory, backupStatistics, encodeCursor } from './backups';
import type { BackupHistoryRow, BackupStatistics, HistoryCursor } from './backups';

/** One run of the size/duration chart (oldest first). */
export type ChartRun = FinishedRun;

/** Everything the /admin/backups page shows, read once per request. */
export interface BackupsDashboard {
  stats: BackupStatistics;
  health: BackupHealth;
  /** Next scheduled run, null when the schedule is off; `scheduleError` when it is misconfigured. */
  nextRun: Date | null;
  scheduleError: string | null;
  history: BackupHistoryRow[];
  nextCursor: string | null;
  chart: ChartRun[];
  /** Id of the backup running now (any process), null when none. */
  runningId: string | null;
  /** Succeeded backups (newest first, up to 50) that an export can read from. */
  exportableBackups: { id: string; startedAt: Date; description: string }[];
  info: { schedule: string; scheduleSpec: { expression: string; timeZone: string } | null; retentionDays: number | null; retentionMin: number | null; storage: string; encrypted: boolean; encryptionRecipients: number; encryptionProblem: string | null; drillPolicy: string; retentionError: string | null; signing: ReturnType<typeof signingNotice> };
}

const PAGE = 20;

/** Reads the dashboard. Configuration errors (schedule, retention) are shown, never thrown. */
export async function backupsDashboard(pool: pg.Pool, opts: { before?: HistoryCursor } = {}): Promise<BackupsDashboard> {
  const rows = await backupHistory(pool, { limit: PAGE + 1, before: opts.before });
  const history = rows.slice(0, PAGE);
  const [stats, facts, chart, running, exportable] = await Promise.all([
    backupStatistics(pool),
    backupHealthFacts(pool),
    recentFinishedRuns(pool, 30),
    currentRun(pool),
    recentSucceededRuns(pool, 50),
  ]);
  let next: Date | null = null;
  let scheduleText = 'off';
  let scheduleSpec: { expression: string; timeZone: string } | null = null;
  let scheduleError: string | null = null;
  try {
    const s = scheduleFromEnv();
    next = s ? nextRun(s) : null;
    scheduleText = describeSchedule(s);
    scheduleSpec = s ? { expression: s.expression, timeZone: s.timeZone } : null;
  } catch (err) {
    scheduleError = oneLine(String((err as Error).message ?? err));
  }
  let retention: { keepDays: number; keepLast: number } | null = null;
  let retentionError: string | null = null;
  try {
    retention = retentionSettings();
  } catch (err) {
    retentionError = oneLine(String((err as Error).message ?? err));
  }
  let drillPolicy: string;
  try {
    drillPolicy = drillPolicyFromEnv();
  } catch (err) {
    drillPolicy = oneLine(String((err as Error).message ?? err));
  }
  // Same answer as /api/admin/backups/stats: a setting that does not parse is a problem, not 'encrypted'.
  const enc = encryptionStatus();
  return {
    stats,
    health: backupHealth(facts, { maxAgeHours: maxAgeHoursFromEnv() }),
    nextRun: next,
    scheduleError,
    history,
    nextCursor: rows.length > PAGE ? encodeCursor(history[history.length - 1]) : null,
    chart,
    runningId: running?.id ?? null,
    exportableBackups: exportable,
    info: {
      schedule: scheduleText,
      scheduleSpec,
      retentionDays: retention?.keepDays ?? null,
      retentionMin: retention?.keepLast ?? null,
      retentionError,
      storage: describeStorage(),
      encrypted: enc.encrypted,
      encryptionRecipients: enc.encryptionRecipients,
      encryptionProblem: enc.encryptionProblem ?? null,
      drillPolicy,
      signing: signingNotice(),
    },
  };
}
