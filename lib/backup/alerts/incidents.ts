import type pg from 'pg';
import { logActivity } from '../../activity/log-activity';
import { oneLine } from '../../errors';
import type { StorageBackend } from '../../storage/storage-backend';
import { isNotFound } from '../../storage/storage-backend';
import { MAX_RECORD_BYTES, readCappedText } from '../../storage/read-capped';
import { Readable } from 'node:stream';
import { INCIDENT_KINDS } from './alert-messages';
import type { IncidentKind } from './alert-messages';
import { sendAlert } from './send-alert';
import type { Alert, DeliveryResult } from './send-alert';

/**
 * Open incidents by kind (absent = no incident). `announced: false`: its alert reached no channel
 * (receiver down, hanging, 5xx), so the next problem of that kind alerts again; absent = announced.
 */
export type IncidentState = Partial<Record<IncidentKind, { openedAt: string; failures: number; backupId: string | null; announced?: boolean }>>;

/** What one scheduled job (or the hourly staleness check) saw. */
export interface Observation {
  /** Problems seen now, each with the alert that announces it if it opens an incident. */
  problems: Alert[];
  /** Kinds now known to be fine (e.g. a verified backup clears backup_failed and verify_failed). */
  cleared: IncidentKind[];
  /** The backup that cleared them (for backup_recovered). */
  recoveredBy?: string | null;
  now: Date;
}

/**
 * The once-per-incident rule, pure: a problem of a kind without an open incident opens one and is
 * alerted; more problems of an open kind are counted, not alerted (unless its alert was never
 * delivered: then it is alerted again); a cleared open kind closes, and
 * closing any incident other than `anomaly` sends ONE backup_recovered (whatever number closed).
 * An anomaly closes silently: its "recovery" is just a normal-sized backup.
 */
export function applyObservation(state: IncidentState, o: Observation): { state: IncidentState; send: Alert[] } {
  const next: IncidentState = { ...state };
  const send: Alert[] = [];
  const closed: IncidentKind[] = [];
  for (const kind of o.cleared) {
    if (next[kind] && !o.problems.some((p) => p.event === kind)) {
      delete next[kind];
      closed.push(kind);
    }
  }
  for (const p of o.problems) {
    const kind = p.event as IncidentKind;
    const open = next[kind];
    if (open && open.announced !== false) next[kind] = { ...open, failures: open.failures + 1 };
    else {
      next[kind] = { openedAt: o.now.toISOString(), failures: (open?.failures ?? 0) + 1, backupId: open?.backupId ?? p.backupId };
      send.push(p);
    }
  }
  const recovered = closed.filter((k) => k !== 'anomaly');
  if (recovered.length) {
    send.push({
      event: 'backup_recovered',
      backupId: o.recoveredBy ?? null,
      message: `resolved: ${recovered.join(', ')}`,
      occurredAt: o.now.toISOString(),
      values: { kinds: recovered.join(', ') },
    });
  }
  return { state: next, send };
}

/** Storage copy of the incident state, for nights when the database is down (not a backup key). */
export const ALERT_STATE_KEY = 'alert-state.json';

async function readStorageState(storage: StorageBackend): Promise<IncidentState> {
  try {
    const v = JSON.parse(await readCappedText(await storage.get(ALERT_STATE_KEY), MAX_RECORD_BYTES, `${ALERT_STATE_KEY} in ${storage.location}`)) as IncidentState;
    const out: IncidentState = {};
    for (const k of INCIDENT_KINDS) if (v && typeof v === 'object' && v[k] && typeof v[k]!.openedAt === 'string') out[k] = v[k];
    return out;
  } catch (err) {
    if (isNotFound(err)) return {};
    return {}; // unreadable: start over rather than stay silent forever
  }
}

async function writeStorageState(storage: StorageBackend, s: IncidentState): Promise<void> {
  if (Object.keys(s).length === 0) await storage.delete(ALERT_STATE_KEY);
  else await storage.put(ALERT_STATE_KEY, Readable.from([Buffer.from(JSON.stringify(s))]));
}

export interface AlertOutcome {
  sent: { alert: Alert; deliveries: DeliveryResult[] }[];
  state: IncidentState;
}

/**
 * Applies an observation to the persisted incident state and sends the alerts it produces.
 * With a database (`db`): state lives in backup_alert_state, updated in one transaction under a
 * table lock so two instances never both alert the same incident; an incident opened while the
 * database was down (storage copy) is merged in and the storage copy removed. Without one: the
 * storage copy is the state. A failed delivery is logged as a BACKUP_ALERT_FAILED activity row
 * (or on stderr without a database). Never throws.
 */
export async function raiseAlerts(
  o: Observation,
  ctx: { db: pg.ClientBase | null; storage: StorageBackend | null; env?: Record<string, string | undefined>; log?: (line: string) => void },
): Promise<AlertOutcome> {
  const log = ctx.log ?? ((l: string) => console.error(l));
  let result: { state: IncidentState; send: Alert[] };
  try {
    const fromStorage = ctx.storage ? await readStorageState(ctx.storage) : {};
    if (ctx.db) {
      await ctx.db.query('BEGIN');
      try {
        await ctx.db.query('LOCK TABLE public.backup_alert_state IN SHARE ROW EXCLUSIVE MODE');
        // opened_at NULL: an incident whose alert reached nobody yet (markUnannounced).
        const rows = (await ctx.db.query('SELECT kind, opened_at, last_seen_at, failures, backup_id FROM public.backup_alert_state')).rows;
        const state: IncidentState = { ...fromStorage };
        for (const r of rows) {
          const announced = r.opened_at !== null;
          state[r.kind as IncidentKind] = {
            openedAt: new Date(r.opened_at ?? r.last_seen_at ?? o.now).toISOString(),
            failures: r.failures,
            backupId: r.backup_id,
            ...(announced ? {} : { announced: false }),
          };
        }
        result = applyObservation(state, o);
        await ctx.db.query('DELETE FROM public.backup_alert_state');
        for (const [kind, v] of Object.entries(result.state)) {
          await ctx.db.query(
            `INSERT INTO public.backup_alert_state (kind, opened_at, last_seen_at, failures, backup_id, updated_at) VALUES ($1, $2, $3, $4, $5, now())`,
            [kind, v.announced === false ? null : v.openedAt, o.now, v.failures, v.backupId],
          );
        }
        await ctx.db.query('COMMIT');
      } catch (err) {
        await ctx.db.query('ROLLBACK').catch(() => {});
        throw err;
      }
      if (ctx.storage && Object.keys(fromStorage).length) await ctx.storage.delete(ALERT_STATE_KEY).catch(() => {});
    } else {
      result = applyObservation(fromStorage, o);
      if (ctx.storage) await writeStorageState(ctx.storage, result.state).catch((err) => log(`[alerts] could not save the incident state to storage: ${oneLine((err as Error).message)}`));
    }
  } catch (err) {
    // No state to compare with: alert every problem rather than stay silent (a duplicate beats silence).
    log(`[alerts] incident state unavailable (${oneLine((err as Error).message)}); alerting without it`);
    result = { state: {}, send: o.problems };
  }

  const sent: AlertOutcome['sent'] = [];
  const unannounced: IncidentKind[] = [];
  for (const alert of result.send) {
    const deliveries = await sendAlert(alert, ctx.env);
    sent.push({ alert, deliveries });
    const kind = alert.event as IncidentKind;
    if (deliveries.length && !deliveries.some((d) => d.ok) && result.state[kind]) unannounced.push(kind);
    for (const d of deliveries.filter((x) => !x.ok)) {
      const line = `Alert ${alert.event} could not be sent by ${d.channel} after ${d.attempts} tries: ${d.error}`;
      log(`[alerts] ${line}`);
      if (ctx.db) {
        await logActivity(ctx.db, {
          action: 'BACKUP_ALERT_FAILED',
          entityType: 'system',
          entityId: alert.backupId,
          description: line,
          ipAddress: 'system-automation',
          userAgent: 'backup-cron-job',
          metadata: { event: alert.event, channel: d.channel, attempts: d.attempts, error: d.error ?? null },
        }).catch(() => {});
      }
    }
  }
  if (unannounced.length) result.state = await markUnannounced(result.state, unannounced, ctx, log);
  return { sent, state: result.state };
}

/**
 * The alert opening these incidents reached no channel: keep them open (failures still counted)
 * but unannounced, so the next problem of the kind alerts again instead of staying silent for the
 * whole incident. Never throws (the worst case is the old behaviour: one undelivered alert).
 */
async function markUnannounced(
  state: IncidentState,
  kinds: IncidentKind[],
  ctx: { db: pg.ClientBase | null; storage: StorageBackend | null },
  log: (line: string) => void,
): Promise<IncidentState> {
  const next: IncidentState = { ...state };
  for (const k of kinds) next[k] = { ...next[k]!, announced: false };
  try {
    if (ctx.db) await ctx.db.query('UPDATE public.backup_alert_state SET opened_at = NULL, updated_at = now() WHERE kind = ANY($1::text[])', [kinds]);
    else if (ctx.storage) await writeStorageState(ctx.storage, next);
  } catch (err) {
    log(`[alerts] could not mark ${kinds.join(', ')} as not delivered: ${oneLine((err as Error).message)}`);
  }
  return next;
}
