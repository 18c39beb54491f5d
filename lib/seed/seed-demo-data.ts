import type pg from 'pg';
import { AppError } from '../errors';
import { CITIES, DEMO_STAFF, GIVEN_NAMES } from './demo-names';

/** The ten TicketHub tables the demo data fills (backup_runs and auth tables are not demo data). */
export const TICKETHUB_TABLES = [
  'admin_users',
  'telegram_users',
  'telegram_channels',
  'trips',
  'receipts',
  'tickets',
  'approvals',
  'invitations',
  'notifications',
  'activity_logs',
] as const;
export type TicketHubTable = (typeof TICKETHUB_TABLES)[number];

export const DEFAULT_SEED_SCALE = 2000;
/** Ticket codes and payment references are unique by construction only up to this many tickets. */
export const MAX_SEED_SCALE = 10_000_000;

/**
 * Password hash of every demo staff account: argon2id of a random password that was thrown away
 * when this constant was made. Demo staff therefore cannot sign in until an operator resets their
 * password (`tickethub-backup admin reset-password`), and the seed stays byte-for-byte deterministic.
 */
export const UNUSABLE_PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$8LbdluuOMrBSSZaxrIIwdg$GvL5fK+YzIbMKK9NQ90Z6rvGKn2tXf9Spgujb5NJUOg';

/**
 * The demo year ends on the base date: every timestamp is derived from it (never from now()), so
 * the same base date gives the same rows byte for byte. The timeline starts 347 days before it, so
 * the newest 5% of trips (the last ~18 days of the year) are still to come and "Upcoming trips" is
 * not 0 on a fresh start; nothing else (receipts, sign-ins, invitations, log entries) lies after
 * the base date.
 */
const DAYS_BEFORE_BASE = 347;

/** Today's date in UTC as YYYY-MM-DD: the default base date. */
export function todayUtc(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** Checks a YYYY-MM-DD base date (a real calendar day); AppError 'usage' naming the value otherwise. */
export function parseBaseDate(value: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw new AppError('usage', `--base-date must be a calendar date YYYY-MM-DD, got '${value}'`);
  }
  return value;
}

export interface SeedOptions {
  /** About this many tickets; customers, trips, receipts... scale with it. */
  scale: number;
  /** Replace existing TicketHub data (truncates the ten tables first). Without it a non-empty database is refused. */
  force?: boolean;
  /** YYYY-MM-DD the demo's "today" (default: today, UTC); the same base date and scale give byte-identical rows. */
  baseDate?: string;
}

export interface SeedResult {
  scale: number;
  /** True when existing rows were removed first (only with force). */
  replacedExisting: boolean;
  counts: Record<TicketHubTable, number>;
  durationMs: number;
  /** The base date used (YYYY-MM-DD). */
  baseDate: string;
}

/** Escapes a string as an SQL literal (the vocabulary is ours, but quoting keeps it safe anyway). */
function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
function textArray(items: readonly string[]): string {
  return `ARRAY[${items.map(lit).join(',')}]::text[]`;
}
function intArray(items: readonly number[]): string {
  return `ARRAY[${items.map((n) => String(Math.trunc(n))).join(',')}]::int[]`;
}

/**
 * The first TicketHub table that holds business data, or null when there is none. admin_users and
 * activity_logs do not count: an operator may create their own admin (which is audited) before
 * seeding; the seed adds its demo staff and log entries next to those and, without force, never
 * removes them.
 */
export async function firstNonEmptyTable(db: pg.ClientBase): Promise<TicketHubTable | null> {
  const sql = TICKETHUB_TABLES.filter((t) => t !== 'admin_users' && t !== 'activity_logs').map((t) => `SELECT ${lit(t)} AS t WHERE EXISTS (SELECT 1 FROM public.${t})`).join(' UNION ALL ');
  const r = await db.query<{ t: TicketHubTable }>(`${sql} LIMIT 1`);
  return r.rows[0]?.t ?? null;
}

/**
 * Fills the ten TicketHub tables with deterministic demo data: the same scale gives the same rows,
 * byte for byte, on any PostgreSQL (no random(), no now(), no gen_random_uuid(): every value is
 * derived from generate_series indices through md5 and a fixed base time). All rows are produced by
 * a handful of INSERT ... SELECT statements, so a million tickets take minutes, not hours.
 *
 * Runs in one transaction: either all demo data is there or none of it. Refuses (AppError
 * 'conflict') when any of the eight business tables has rows (see firstNonEmptyTable), unless
 * `force`, which first empties all ten (TRUNCATE, and DELETE for admin_users so rows of other
 * tables referencing staff, such as backup_runs, are kept with their ON DELETE rule). Without force
 * existing admins stay; a demo staff email that is already taken fails the seed.
 */
export async function seedDemoData(db: pg.ClientBase, opts: SeedOptions): Promise<SeedResult> {
  const N = opts.scale;
  if (!Number.isSafeInteger(N) || N < 1 || N > MAX_SEED_SCALE) {
    throw new AppError('usage', `scale must be a whole number from 1 to ${MAX_SEED_SCALE}, got ${opts.scale}`);
  }
  const started = Date.now();
  const schema = await db.query(`SELECT to_regclass('public.tickets') AS t, to_regclass('public.activity_logs') AS a`);
  if (!schema.rows[0].t || !schema.rows[0].a) {
    throw new AppError('config', 'the TicketHub schema is missing: run `npm run db:migrate` first');
  }

  // Sizes. Tickets come in blocks of 6 (receipts of 1, 2 and 3 seats) and 7 blocks fill one bus
  // (42 seats sold of 45-61), so no receipt straddles two trips and seats never collide.
  const T = Math.ceil(N / 42);
  const U = Math.max(10, Math.ceil(N / 4));
  const rem = N % 6;
  const RA = 3 * Math.floor(N / 6) + (rem === 0 ? 0 : rem === 1 ? 1 : rem <= 3 ? 2 : 3); // approved, with tickets
  const P = Math.ceil(RA / 25); // pending receipts (no tickets yet)
  const J = Math.ceil(RA / 30); // rejected receipts
  const I = Math.max(3, Math.floor(N / 1000)); // invitations
  const scheduledTrips = Math.max(1, Math.floor(T / 20)); // the newest 5% of trips have not left yet

  const amNames = textArray(GIVEN_NAMES.map((n) => n.am));
  const enNames = textArray(GIVEN_NAMES.map((n) => n.en));
  const NN = GIVEN_NAMES.length;
  const cityEn = textArray(CITIES.map((c) => c.en));
  const cityAm = textArray(CITIES.map((c) => c.am));
  const cityKm = intArray(CITIES.map((c) => c.km));
  const cityCorr = intArray(CITIES.map((c) => c.corridor));
  const baseDate = parseBaseDate(opts.baseDate ?? todayUtc());
  const B = `(${lit(`${baseDate} 00:00:00+00`)}::timestamptz - interval '${DAYS_BEFORE_BASE} days')`;
  // The latest moment anything but a trip departure may have (receipts of upcoming trips included).
  const NOW = `(${lit(`${baseDate} 00:00:00+00`)}::timestamptz - interval '3 hours')`;
  const admin = (expr: string) => `md5('tickethub-demo-admin-' || (${expr}))::uuid`;
  // Seven active staff members (index 1..7) review receipts; the first three plan trips.
  const reviewer = (salt: string) => admin(`pg_temp.h(${salt}) % 7 + 1`);
  const ip = (salt: string) => `'196.188.' || (pg_temp.h(${salt}, 91) % 256) || '.' || (pg_temp.h(${salt}, 92) % 254 + 1)`;
  const userAgents = textArray([
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
    'Mozilla/5.0 (Linux; Android 14; TECNO KI7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  ]);
  const ua = (salt: string) => `(${userAgents})[pg_temp.h(${salt}, 93) % 4 + 1]`;
  const local = (ts: string) => `to_char((${ts}) AT TIME ZONE 'UTC' + interval '3 hours', 'YYYY-MM-DD HH24:MI')`; // East Africa Time, fixed offset (no tzdata needed)

  const staffRows = DEMO_STAFF.map((s, i) => {
    const a = i + 1;
    const first = GIVEN_NAMES[s.first];
    const last = GIVEN_NAMES[s.last];
    const fullName = s.script === 'am' ? `${first.am} ${last.am}` : `${first.en} ${last.en}`;
    const email = `${first.en.toLowerCase()}.${last.en.toLowerCase()}@tickethub.local`;
    const created = `${B} - interval '${200 - 10 * a} days'`;
    const lastSignIn = s.active ? `${B} + interval '${DAYS_BEFORE_BASE - 1} days' + interval '${a} hours'` : 'NULL';
    return `(${admin(String(a))}, ${lit(email)}, ${lit(fullName)}, '${s.role}', ${lit(UNUSABLE_PASSWORD_HASH)}, ${s.active}, ${lastSignIn}, ${created}, ${created})`;
  }).join(',\n');

  const statements: string[] = [
    `SET LOCAL work_mem = '256MB'`,
    `SET LOCAL synchronous_commit = off`,
    // md5-based hash of (index, salt) -> 0 .. 2^32-1: deterministic on every PostgreSQL version and
    // inlined by the planner (each parameter is used once).
    `CREATE OR REPLACE FUNCTION pg_temp.h(x bigint, s int) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$ SELECT ('x' || substr(md5(s::text || ':' || x::text), 1, 8))::bit(32)::bigint $$`,

    `INSERT INTO public.admin_users (id, email, full_name, role, password_hash, is_active, last_sign_in_at, created_at, updated_at)
     VALUES ${staffRows}`,

    `INSERT INTO public.telegram_channels (id, chat_id, title, chat_type, purpose, is_active, created_at) OVERRIDING SYSTEM VALUE VALUES
       (1, -1001000000001, 'ቲኬትሀብ ማስታወቂያዎች', 'channel', 'announcements', true, ${B} - interval '190 days'),
       (2, -1001000000002, 'TicketHub Announcements', 'channel', 'announcements', true, ${B} - interval '190 days'),
       (3, -1001000000003, 'TicketHub Staff', 'supergroup', 'staff_alerts', true, ${B} - interval '185 days'),
       (4, -1001000000004, 'የደንበኞች ድጋፍ / Customer Support', 'group', 'support', true, ${B} - interval '180 days'),
       (5, -1001000000005, 'TicketHub Backups', 'group', 'backups', true, ${B} - interval '170 days'),
       (6, -1001000000006, 'ባሕር ዳር ጣቢያ', 'group', 'staff_alerts', false, ${B} - interval '160 days')`,

    `INSERT INTO public.telegram_users (id, telegram_id, username, first_name, last_name, phone, language_code, is_blocked, created_at, updated_at) OVERRIDING SYSTEM VALUE
     SELECT u,
            300000000 + u * 7919 + pg_temp.h(u, 5) % 7919,
            CASE WHEN pg_temp.h(u, 6) % 4 = 0 THEN NULL ELSE lower((${enNames})[f]) || '_' || lower((${enNames})[l]) || '_' || u END,
            CASE WHEN am THEN (${amNames})[f] ELSE (${enNames})[f] END,
            CASE WHEN pg_temp.h(u, 7) % 20 = 0 THEN NULL WHEN am THEN (${amNames})[l] ELSE (${enNames})[l] END,
            CASE WHEN pg_temp.h(u, 8) % 5 = 0 THEN NULL ELSE '+2519' || lpad((pg_temp.h(u, 9) % 100000000)::text, 8, '0') END,
            CASE WHEN am THEN 'am' ELSE 'en' END,
            pg_temp.h(u, 10) % 100 = 0,
            created, created
     FROM (SELECT u, pg_temp.h(u, 2) % 10 < 7 AS am, pg_temp.h(u, 3) % ${NN} + 1 AS f, pg_temp.h(u, 4) % ${NN} + 1 AS l,
                  ${B} - interval '180 days' + (u - 1) * (interval '180 days' / ${U}) AS created
           FROM generate_series(1::bigint, ${U}) AS u) s
     ORDER BY u`,

    `INSERT INTO public.trips (id, origin, destination, departure_at, arrival_at, vehicle_plate, total_seats, price_etb, status, created_by, created_at, updated_at) OVERRIDING SYSTEM VALUE
     SELECT t, (${cityEn})[o + 1], (${cityEn})[d + 1], dep,
            dep + make_interval(mins => (dist * 60 / 50)::int),
            '3-' || (ARRAY['AA','OR','AM','TG','SD','DR'])[pg_temp.h(t, 15) % 6 + 1] || '-' || (10000 + pg_temp.h(t, 16) % 90000),
            (ARRAY[45, 49, 51, 57, 61])[pg_temp.h(t, 17) % 5 + 1],
            (((dist * 2 + 100 + 5) / 10) * 10)::numeric(10,2),
            (CASE WHEN t > ${T - scheduledTrips} THEN 'scheduled' WHEN pg_temp.h(t, 18) % 100 = 0 THEN 'cancelled' ELSE 'arrived' END)::public.trip_status,
            ${admin('pg_temp.h(t, 19) % 3 + 1')},
            least(dep - interval '14 days', ${NOW}), least(dep - interval '14 days', ${NOW})
     FROM (SELECT t, o, d, dep,
                  CASE WHEN (${cityCorr})[o + 1] = (${cityCorr})[d + 1] THEN abs((${cityKm})[o + 1] - (${cityKm})[d + 1])
                       ELSE (${cityKm})[o + 1] + (${cityKm})[d + 1] END AS dist
           FROM (SELECT t, o, (o + 1 + pg_temp.h(t, 11) % 9) % 10 AS d,
                        -- Trips that have left spread over the year before the base date; the scheduled
                        -- ones over the 18 days after it (so there are upcoming trips at any scale).
                        ${B} + make_interval(days => (CASE WHEN t <= ${T - scheduledTrips} THEN (t - 1) * ${DAYS_BEFORE_BASE - 1} / ${Math.max(1, T - scheduledTrips)}
                                                          ELSE ${DAYS_BEFORE_BASE} + (t - ${T - scheduledTrips}) * 18 / ${scheduledTrips} END)::int,
                                             hours => (5 + pg_temp.h(t, 12) % 8)::int, mins => (15 * (pg_temp.h(t, 13) % 4))::int) AS dep
                 FROM (SELECT t, pg_temp.h(t, 10) % 10 AS o FROM generate_series(1, ${T}) AS t) a) b) c
     ORDER BY t`,

    // Receipts 0 .. RA-1 are approved and carry tickets (receipt k covers tickets f(k) .. f(k)+seats-1
    // of trip k/21); then P pending ones on trips that have not left yet, then J rejected ones.
    `INSERT INTO public.receipts (id, telegram_user_id, trip_id, amount_etb, seats, payment_method, payment_reference, status, reviewed_by, reviewed_at, created_at) OVERRIDING SYSTEM VALUE
     SELECT k + 1, user_id, r.trip_id, tr.price_etb * r.seats, r.seats,
            CASE WHEN m < 45 THEN 'telebirr' WHEN m < 70 THEN 'cbe' WHEN m < 80 THEN 'cbe_birr' WHEN m < 86 THEN 'awash'
                 WHEN m < 91 THEN 'dashen' WHEN m < 95 THEN 'abyssinia' ELSE 'cash' END,
            upper(substr(md5('ref:' || k), 1, 4)) || lpad((k + 1)::text, 8, '0'),
            st::public.receipt_status,
            CASE WHEN st = 'pending' THEN NULL ELSE ${reviewer('k, 25')} END,
            CASE WHEN st = 'pending' THEN NULL ELSE created + make_interval(mins => (5 + pg_temp.h(k, 24) % 115)::int) END,
            created
     FROM (SELECT k, st, trip_id, seats, pg_temp.h(k, 21) % ${U} + 1 AS user_id, pg_temp.h(k, 20) % 100 AS m
           FROM (SELECT k, 'approved' AS st, k / 21 + 1 AS trip_id,
                        least(k % 3 + 1, ${N} - (6 * (k / 3) + (ARRAY[0, 1, 3])[k % 3 + 1]))::int AS seats
                 FROM generate_series(0, ${RA - 1}) AS k
                 UNION ALL
                 SELECT k, CASE WHEN k < ${RA + P} THEN 'pending' ELSE 'rejected' END,
                        CASE WHEN k < ${RA + P} THEN ${T} - pg_temp.h(k, 26) % ${scheduledTrips} ELSE pg_temp.h(k, 26) % ${T} + 1 END,
                        (1 + pg_temp.h(k, 27) % 2)::int
                 FROM generate_series(${RA}, ${RA + P + J - 1}) AS k) x) r
     JOIN public.trips tr ON tr.id = r.trip_id
     CROSS JOIN LATERAL (SELECT least(tr.departure_at - make_interval(days => (1 + pg_temp.h(r.k, 22) % 10)::int, hours => (pg_temp.h(r.k, 23) % 12)::int), ${NOW}) AS created) c
     ORDER BY k`,

    `INSERT INTO public.tickets (id, receipt_id, trip_id, telegram_user_id, seat_number, passenger_name, ticket_code, status, issued_at, used_at) OVERRIDING SYSTEM VALUE
     SELECT i + 1, rid, trip_id, user_id,
            ((i % 42) * 5 % 43 + 1)::int,
            CASE WHEN s = 0 THEN buyer
                 WHEN lang = 'am' THEN (${amNames})[pg_temp.h(i, 30) % ${NN} + 1] || ' ' || (${amNames})[pg_temp.h(i, 31) % ${NN} + 1]
                 ELSE (${enNames})[pg_temp.h(i, 30) % ${NN} + 1] || ' ' || (${enNames})[pg_temp.h(i, 31) % ${NN} + 1] END,
            'TH-' || upper(lpad(to_hex(((i % 16777216) * 10368889 + 1234567) % 16777216), 6, '0') || to_hex(i / 16777216) || substr(md5('tk:' || i), 1, 3)),
            tst::public.ticket_status,
            reviewed_at,
            CASE WHEN tst = 'used' THEN departure_at - make_interval(mins => (10 + pg_temp.h(i, 34) % 40)::int) END
     FROM (SELECT i, s, rid, trip_id, user_id, buyer, lang, reviewed_at, departure_at,
                  CASE WHEN trip_status = 'cancelled' OR pg_temp.h(i, 32) % 100 = 0 THEN 'cancelled'
                       WHEN trip_status = 'arrived' THEN CASE WHEN pg_temp.h(i, 33) % 25 = 0 THEN 'valid' ELSE 'used' END
                       ELSE 'valid' END AS tst
           FROM (SELECT 6 * ((r.id - 1) / 3) + (ARRAY[0, 1, 3])[(r.id - 1) % 3 + 1] + s AS i, s, r.id AS rid, r.trip_id,
                        r.telegram_user_id AS user_id, u.first_name || coalesce(' ' || u.last_name, '') AS buyer, u.language_code AS lang,
                        r.reviewed_at, t.departure_at, t.status::text AS trip_status
                 FROM public.receipts r
                 JOIN public.trips t ON t.id = r.trip_id
                 JOIN public.telegram_users u ON u.id = r.telegram_user_id
                 CROSS JOIN LATERAL generate_series(0, r.seats - 1) AS s
                 WHERE r.id <= ${RA}) x) y
     ORDER BY i`,

    `INSERT INTO public.approvals (receipt_id, admin_user_id, decision, reason, created_at)
     SELECT id, reviewed_by, status,
            CASE WHEN status = 'rejected' THEN (${textArray([
              'Payment reference not found in the telebirr statement',
              'ክፍያው በባንክ መግለጫው ላይ አልተገኘም',
              'Amount does not match the ticket price',
              'የተላከው ደረሰኝ ግልጽ አይደለም',
              'Duplicate receipt',
            ])})[pg_temp.h(id, 35) % 5 + 1] END,
            reviewed_at
     FROM public.receipts WHERE status <> 'pending'
     ORDER BY id`,

    `INSERT INTO public.invitations (id, email, role, token_hash, invited_by, expires_at, accepted_at, created_at)
     SELECT md5('tickethub-demo-invitation-' || i)::uuid,
            'invitee' || i || '@example.et',
            (CASE WHEN i % 5 = 0 THEN 'admin' ELSE 'staff' END)::public.admin_role,
            encode(sha256(convert_to('tickethub-demo-invitation-token-' || i, 'UTF8')), 'hex'),
            ${admin('pg_temp.h(i, 36) % 3 + 1')},
            created + interval '7 days',
            CASE WHEN i % 3 <> 0 THEN created + make_interval(days => (pg_temp.h(i, 37) % 6)::int, hours => (pg_temp.h(i, 38) % 23)::int) END,
            created
     FROM (SELECT i, ${B} + (i - 1) * (interval '${DAYS_BEFORE_BASE - 1} days' / ${I}) AS created FROM generate_series(1, ${I}) AS i) s
     ORDER BY i`,

    `INSERT INTO public.notifications (telegram_user_id, channel_id, channel, message, status, sent_at, error, created_at)
     SELECT telegram_user_id, channel_id, 'telegram', message, status, sent_at, error, created_at
     FROM (
       SELECT 1 AS kind, r.id AS ref, r.telegram_user_id, NULL::bigint AS channel_id,
              CASE WHEN u.language_code = 'am' THEN
                CASE r.status
                  WHEN 'approved' THEN format('ክፍያዎ ጸድቋል። ጉዞ፦ %s → %s፣ %s፣ %s መቀመጫ። ትኬቶችዎ ዝግጁ ናቸው።', (${cityAm})[array_position(${cityEn}, t.origin)], (${cityAm})[array_position(${cityEn}, t.destination)], ${local('t.departure_at')}, r.seats)
                  WHEN 'rejected' THEN format('ለ%s → %s ጉዞ የላኩት ክፍያ ውድቅ ሆኗል። እባክዎ የደንበኞች ድጋፍን ያነጋግሩ።', (${cityAm})[array_position(${cityEn}, t.origin)], (${cityAm})[array_position(${cityEn}, t.destination)])
                  ELSE format('ለ%s → %s ጉዞ ክፍያዎ ደርሶናል፤ በመገምገም ላይ ነው።', (${cityAm})[array_position(${cityEn}, t.origin)], (${cityAm})[array_position(${cityEn}, t.destination)]) END
              ELSE
                CASE r.status
                  WHEN 'approved' THEN format('Payment approved. Trip %s → %s on %s, %s seat(s). Your tickets are ready.', t.origin, t.destination, ${local('t.departure_at')}, r.seats)
                  WHEN 'rejected' THEN format('Your payment for %s → %s was rejected. Please contact customer support.', t.origin, t.destination)
                  ELSE format('We received your payment for %s → %s and are reviewing it.', t.origin, t.destination) END
              END AS message,
              CASE WHEN r.status = 'pending' THEN 'queued' WHEN u.is_blocked OR pg_temp.h(r.id, 40) % 40 = 0 THEN 'failed' ELSE 'sent' END AS status,
              CASE WHEN r.status <> 'pending' AND NOT u.is_blocked AND pg_temp.h(r.id, 40) % 40 <> 0 THEN r.reviewed_at + make_interval(secs => (1 + pg_temp.h(r.id, 41) % 90)::int) END AS sent_at,
              CASE WHEN r.status = 'pending' THEN NULL WHEN u.is_blocked THEN 'Forbidden: bot was blocked by the user'
                   WHEN pg_temp.h(r.id, 40) % 40 = 0 THEN 'Telegram API timeout after 3 retries' END AS error,
              coalesce(r.reviewed_at, r.created_at) AS created_at
       FROM public.receipts r
       JOIN public.trips t ON t.id = r.trip_id
       JOIN public.telegram_users u ON u.id = r.telegram_user_id
       UNION ALL
       SELECT 2, t.id, NULL, CASE WHEN t.id % 2 = 0 THEN 1 ELSE 2 END,
              CASE WHEN t.id % 2 = 0
                THEN format('አዲስ ጉዞ፦ %s → %s፣ %s፣ %s ብር።', (${cityAm})[array_position(${cityEn}, t.origin)], (${cityAm})[array_position(${cityEn}, t.destination)], ${local('t.departure_at')}, t.price_etb)
                ELSE format('New trip: %s → %s, %s, %s ETB.', t.origin, t.destination, ${local('t.departure_at')}, t.price_etb) END,
              'sent', t.created_at + interval '1 minute', NULL, t.created_at
       FROM public.trips t WHERE t.id % 25 = 0
     ) n
     ORDER BY created_at, kind, ref`,

    `INSERT INTO public.activity_logs (action, entity_type, entity_id, description, ip_address, user_agent, metadata, admin_user_id, created_at)
     SELECT action, entity_type, entity_id, description, ip_address, user_agent, metadata, admin_user_id, created_at
     FROM (
       SELECT 'TRIP_CREATED' AS action, 'trip' AS entity_type, t.id::text AS entity_id, 1 AS kind, t.id AS ref,
              format('Trip %s → %s on %s created', t.origin, t.destination, ${local('t.departure_at')}) AS description,
              ${ip('t.id')} AS ip_address, ${ua('t.id')} AS user_agent,
              jsonb_build_object('origin', t.origin, 'destination', t.destination, 'price_etb', t.price_etb, 'total_seats', t.total_seats, 'vehicle_plate', t.vehicle_plate) AS metadata,
              t.created_by AS admin_user_id, t.created_at
       FROM public.trips t
       UNION ALL
       SELECT CASE WHEN r.status = 'approved' THEN 'RECEIPT_APPROVED' ELSE 'RECEIPT_REJECTED' END, 'receipt', r.id::text, 2, r.id,
              format('Receipt #%s %s: %s ETB via %s', r.id, r.status, r.amount_etb, r.payment_method),
              ${ip('r.id')}, ${ua('r.id')},
              jsonb_build_object('trip_id', r.trip_id, 'amount_etb', r.amount_etb, 'seats', r.seats, 'payment_method', r.payment_method, 'payment_reference', r.payment_reference),
              r.reviewed_by, r.reviewed_at
       FROM public.receipts r WHERE r.status <> 'pending'
       UNION ALL
       SELECT 'INVITATION_SENT', 'invitation', i.id::text, 3, 0,
              format('Invitation sent to %s (%s)', i.email, i.role),
              ${ip("('x' || substr(i.token_hash, 1, 7))::bit(28)::bigint")}, ${ua("('x' || substr(i.token_hash, 1, 7))::bit(28)::bigint")},
              jsonb_build_object('email', i.email, 'role', i.role, 'expires_at', i.expires_at),
              i.invited_by, i.created_at
       FROM public.invitations i
       UNION ALL
       SELECT 'ADMIN_SIGN_IN', 'admin_user', a.id::text, 4, d * 10 + n,
              format('%s signed in', a.email),
              ${ip('d * 10 + n')}, ${ua('d * 10 + n')},
              jsonb_build_object('email', a.email),
              a.id, ${B} + make_interval(days => d, hours => (7 + pg_temp.h(d * 10 + n, 42) % 3)::int, mins => (pg_temp.h(d * 10 + n, 43) % 60)::int)
       FROM generate_series(0, ${DAYS_BEFORE_BASE - 2}) AS d
       CROSS JOIN generate_series(1, 7) AS n
       JOIN public.admin_users a ON a.id = ${admin('n')}
       WHERE pg_temp.h(d * 10 + n, 44) % 3 = 0
     ) l
     ORDER BY created_at, kind, ref`,
  ];
  // Identity sequences continue after the demo ids, so rows the app inserts later get fresh ids.
  for (const t of ['telegram_users', 'telegram_channels', 'trips', 'receipts', 'tickets']) {
    statements.push(`SELECT setval(pg_get_serial_sequence('public.${t}', 'id'), (SELECT max(id) FROM public.${t}))`);
  }
  statements.push(`ANALYZE ${TICKETHUB_TABLES.map((t) => `public.${t}`).join(', ')}`);

  await db.query('BEGIN');
  try {
    const busy = await firstNonEmptyTable(db);
    if (busy && !opts.force) {
      throw new AppError('conflict', `the database already has TicketHub data (table ${busy} is not empty); use --force to replace it`);
    }
    // TRUNCATE ... RESTART IDENTITY even when empty: approvals, notifications and activity_logs
    // take their ids from the sequences, which an earlier rolled-back attempt may have advanced.
    // Without force, an audit trail that already has entries is kept (ids then continue after it).
    const keepLog = !opts.force && (await db.query('SELECT 1 FROM public.activity_logs LIMIT 1')).rowCount !== 0;
    const emptied = TICKETHUB_TABLES.filter((t) => t !== 'admin_users' && !(keepLog && t === 'activity_logs'));
    await db.query(`TRUNCATE ${emptied.map((t) => `public.${t}`).join(', ')} RESTART IDENTITY`);
    const removedAdmins = opts.force ? ((await db.query('DELETE FROM public.admin_users')).rowCount ?? 0) : 0;
    for (const sql of statements) await db.query(sql);
    await db.query('COMMIT');
    const counts = {} as Record<TicketHubTable, number>;
    for (const t of TICKETHUB_TABLES) counts[t] = Number((await db.query(`SELECT count(*) AS n FROM public.${t}`)).rows[0].n);
    return { scale: N, replacedExisting: Boolean(opts.force) && (busy !== null || removedAdmins > 0), counts, durationMs: Date.now() - started, baseDate };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
