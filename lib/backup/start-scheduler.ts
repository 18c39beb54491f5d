import { Cron } from 'croner';
import pg from 'pg';
import { databaseUrl } from '../db/pool';
import { oneLine, toAppError } from '../errors';
import { checkBackupStaleness, runScheduledBackup } from './run-scheduled-backup';
import type { ScheduledBackupResult } from './run-scheduled-backup';
import { describeSchedule, latestSlot, scheduleFromEnv } from './schedule';
import type { BackupSchedule } from './schedule';
import { hasLedger, slotMissed } from './schedule-ledger';

type Log = (line: string) => void;

export interface BackupScheduler {
  schedule: BackupSchedule;
  /** Runs the scheduled job now for the current slot (what the timer does). */
  runNow(): Promise<ScheduledBackupResult>;
  stop(): void;
}

const KEY = Symbol.for('tickethub.backupScheduler');
type Holder = { [KEY]?: BackupScheduler };

/** One line per job for the server log. */
export function describeResult(r: ScheduledBackupResult): string {
  if (r.status === 'skipped' || r.status === 'busy') return `${r.status}: ${r.reason}`;
  if (!r.backup) return `backup FAILED: ${r.error}`;
  const alerts = r.alerts.length ? `; alerts: ${r.alerts.map((a) => `${a.event}${a.delivered ? '' : ' (not delivered)'}`).join(', ')}` : '';
  const drill = r.drill ? `; drill ${r.drill.ok ? 'passed' : `FAILED: ${r.drill.error}`}` : '';
  return `backup ${r.backup.id} succeeded (${r.backup.rows} rows, ${r.backup.sizeBytes} bytes); retention removed ${r.retention.removed.length}${drill}${alerts}`;
}

/**
 * The in-process scheduler of a long-lived server (`npm start` / `next start`), started from
 * instrumentation.ts: runs the scheduled job at every slot of BACKUP_SCHEDULE (croner, `protect`
 * so a slow run never overlaps the next in this process; the slot ledger keeps other processes
 * out), checks backup staleness hourly, and catches up ONE missed slot at start. Returns null when
 * BACKUP_SCHEDULE is off or invalid (said on the log). Started at most once per process.
 */
export function startBackupScheduler(env: Record<string, string | undefined> = process.env, log: Log = (l) => console.log(l)): BackupScheduler | null {
  const holder = globalThis as Holder;
  if (holder[KEY]) return holder[KEY]!;
  let schedule: BackupSchedule | null;
  try {
    schedule = scheduleFromEnv(env);
  } catch (err) {
    log(`[scheduler] not started: ${oneLine(toAppError(err).message)}`);
    return null;
  }
  if (!schedule) {
    log('[scheduler] BACKUP_SCHEDULE is off: no scheduled backups in this process');
    return null;
  }
  const s = schedule;
  const runNow = async () => {
    const r = await runScheduledBackup({ source: 'schedule', schedule: s, env });
    log(`[scheduler] slot ${r.slot}: ${describeResult(r)}`);
    return r;
  };
  const job = new Cron(s.expression, { timezone: s.timeZone, mode: '5-part', protect: true, catch: (e) => log(`[scheduler] job crashed: ${oneLine(String(e))}`) }, async () => {
    await runNow();
  });
  const hourly = new Cron('0 * * * *', { protect: true, catch: () => {} }, async () => {
    const status = await checkBackupStaleness({ env });
    if (status !== 'ok') log(`[scheduler] backup health: ${status}`);
  });
  const scheduler: BackupScheduler = {
    schedule: s,
    runNow,
    stop() {
      job.stop();
      hourly.stop();
      delete holder[KEY];
    },
  };
  holder[KEY] = scheduler;
  log(`[scheduler] scheduled backups ${describeSchedule(s)}; next at ${job.nextRun()?.toISOString() ?? 'never'}`);
  void catchUp(s, runNow, log);
  return scheduler;
}

/** A slot missed while the server was down is run once at start (not once per missed slot). */
async function catchUp(s: BackupSchedule, runNow: () => Promise<unknown>, log: Log): Promise<void> {
  const slot = latestSlot(s);
  if (!slot) return;
  const c = new pg.Client({ connectionString: databaseUrl(), application_name: 'tickethub-scheduler' });
  c.on('error', () => {});
  let missed = false;
  try {
    await c.connect();
    missed = (await hasLedger(c)) && (await slotMissed(c, s.key, slot));
  } catch (err) {
    log(`[scheduler] could not check for a missed slot: ${oneLine(toAppError(err).message)}`);
  } finally {
    await c.end().catch(() => {});
  }
  if (!missed) return;
  log(`[scheduler] catching up the missed slot ${slot.toISOString()}`);
  await runNow().catch((err) => log(`[scheduler] catch-up failed: ${oneLine(toAppError(err).message)}`));
}
