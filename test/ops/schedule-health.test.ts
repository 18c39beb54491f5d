import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupHealth, maxAgeHoursFromEnv } from '../../lib/backup/backup-health';
import { backupHealthFacts } from '../../lib/backup/backup-runs';
import { latestSlot, nextRun, parseSchedule, scheduleFromEnv } from '../../lib/backup/schedule';
import { AppError } from '../../lib/errors';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const at = (s: string) => new Date(s);

describe('backup schedule', () => {
  it('defaults to 02:00 UTC daily; off disables', () => {
    const s = scheduleFromEnv({})!;
    expect(s.expression).toBe('0 2 * * *');
    expect(s.timeZone).toBe('UTC');
    expect(scheduleFromEnv({ BACKUP_SCHEDULE: 'off' })).toBeNull();
    expect(scheduleFromEnv({ BACKUP_SCHEDULE: ' OFF ' })).toBeNull();
  });

  it('latest slot is at or before now; next run is strictly after', () => {
    const s = scheduleFromEnv({})!;
    expect(latestSlot(s, at('2026-03-10T02:00:00.000Z'))!.toISOString()).toBe('2026-03-10T02:00:00.000Z');
    expect(latestSlot(s, at('2026-03-10T01:59:59.999Z'))!.toISOString()).toBe('2026-03-09T02:00:00.000Z');
    expect(latestSlot(s, at('2026-03-10T23:00:00Z'))!.toISOString()).toBe('2026-03-10T02:00:00.000Z');
    expect(nextRun(s, at('2026-03-10T02:00:00.000Z'))!.toISOString()).toBe('2026-03-11T02:00:00.000Z');
    const every = parseSchedule('* * * * *');
    expect(latestSlot(every, at('2026-03-10T05:07:59.5Z'))!.toISOString()).toBe('2026-03-10T05:07:00.000Z');
  });

  it('reads the expression in BACKUP_TZ (Addis Ababa is UTC+3; New York crosses DST)', () => {
    const s = scheduleFromEnv({ BACKUP_SCHEDULE: '0 2 * * *', BACKUP_TZ: 'Africa/Addis_Ababa' })!;
    expect(latestSlot(s, at('2026-03-10T12:00:00Z'))!.toISOString()).toBe('2026-03-09T23:00:00.000Z');
    const ny = parseSchedule('30 1 * * *', 'America/New_York');
    expect(nextRun(ny, at('2026-03-07T12:00:00Z'))!.toISOString()).toBe('2026-03-08T06:30:00.000Z');
    expect(nextRun(ny, at('2026-03-08T12:00:00Z'))!.toISOString()).toBe('2026-03-09T05:30:00.000Z');
    expect(s.key).not.toBe(scheduleFromEnv({})!.key);
  });

  it.each([
    ['61 * * * *', /BACKUP_SCHEDULE "61 \* \* \* \*" is not a valid cron expression/],
    ['every day', /must be a cron expression of 5 fields/],
    ['0 0 2 * * *', /must be a cron expression of 5 fields/],
    ['0 2 31 2 *', /never fires|not a valid/],
  ])('rejects %j with one line naming BACKUP_SCHEDULE', (expr, msg) => {
    let err: unknown;
    try {
      scheduleFromEnv({ BACKUP_SCHEDULE: expr });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('config');
    expect((err as AppError).message).toMatch(msg);
    expect((err as AppError).message).not.toContain('\n');
  });

  it('rejects an unknown time zone', () => {
    expect(() => scheduleFromEnv({ BACKUP_TZ: 'Mars/Olympus' })).toThrow(/BACKUP_TZ "Mars\/Olympus" is not an IANA time zone/);
  });
});

describe('backup health (pure)', () => {
  const now = at('2026-03-10T12:00:00Z');
  it('ok / stale / failing / never', () => {
    expect(backupHealth({ lastVerifiedBackupAt: at('2026-03-10T02:00:00Z'), latestScheduledStatus: 'succeeded' }, { now })).toMatchObject({ status: 'ok', ageHours: 10 });
    expect(backupHealth({ lastVerifiedBackupAt: at('2026-03-09T10:00:00Z'), latestScheduledStatus: 'succeeded' }, { now }).status).toBe('stale');
    expect(backupHealth({ lastVerifiedBackupAt: at('2026-03-09T10:00:00Z'), latestScheduledStatus: null }, { now, maxAgeHours: 27 }).status).toBe('ok');
    expect(backupHealth({ lastVerifiedBackupAt: at('2026-03-10T02:00:00Z'), latestScheduledStatus: 'failed' }, { now }).status).toBe('failing');
    expect(backupHealth({ lastVerifiedBackupAt: null, latestScheduledStatus: null }, { now })).toMatchObject({ status: 'never', ageHours: null });
  });
  it('BACKUP_MAX_AGE_HOURS: default 26, invalid falls back and says so', () => {
    expect(maxAgeHoursFromEnv({})).toBe(26);
    expect(maxAgeHoursFromEnv({ BACKUP_MAX_AGE_HOURS: '50' })).toBe(50);
    const said: string[] = [];
    expect(maxAgeHoursFromEnv({ BACKUP_MAX_AGE_HOURS: '-3' }, (m) => said.push(m))).toBe(26);
    expect(said[0]).toMatch(/BACKUP_MAX_AGE_HOURS/);
  });
});

describe('backup health facts (real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: true });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a good backup is succeeded AND verified, not failed by a later verification or drill', async () => {
    await withClient(db.url, async (c) => {
      expect(await backupHealthFacts(c)).toEqual({ lastVerifiedBackupAt: null, latestScheduledStatus: null });
      const ins = (id: string, trigger: string, status: string, at: string, extra = '') =>
        c.query(`INSERT INTO public.backup_runs (id, trigger, status, started_at, finished_at${extra ? ', verified_at, verification, drill' : ''})
                 VALUES ($1, $2, $3, $4, $4${extra ? `, $4, ${extra}` : ''})`, [id, trigger, status, at]);
      await ins('20260301T020000Z-aaaa', 'schedule', 'succeeded', '2026-03-01T02:00:00Z', `'{"ok":true}', NULL`);
      await ins('20260302T020000Z-bbbb', 'manual', 'succeeded', '2026-03-02T02:00:00Z'); // never verified
      await ins('20260303T020000Z-cccc', 'cron', 'succeeded', '2026-03-03T02:00:00Z', `'{"ok":true}', '{"ok":false}'`); // drill failed
      await ins('20260304T020000Z-dddd', 'cli', 'succeeded', '2026-03-04T02:00:00Z', `'{"ok":false}', NULL`); // verification failed
      let f = await backupHealthFacts(c);
      expect(f.lastVerifiedBackupAt?.toISOString()).toBe('2026-03-01T02:00:00.000Z');
      expect(f.latestScheduledStatus).toBe('succeeded');
      await ins('20260305T020000Z-eeee', 'schedule', 'failed', '2026-03-05T02:00:00Z');
      await ins('20260306T020000Z-ffff', 'manual', 'succeeded', '2026-03-06T02:00:00Z', `'{"ok":true}', NULL`);
      f = await backupHealthFacts(c);
      expect(f.lastVerifiedBackupAt?.toISOString()).toBe('2026-03-06T02:00:00.000Z');
      expect(f.latestScheduledStatus).toBe('failed'); // a manual success does not hide a failing schedule
      expect(backupHealth(f, { now: at('2026-03-06T03:00:00Z') }).status).toBe('failing');
    });
  });
});
