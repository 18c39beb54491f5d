import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { seedDemoData, TICKETHUB_TABLES } from '../../lib/seed/seed-demo-data';
import { createTestDatabase, withClient, type TestDatabase } from '../helpers/db';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** md5 of every row of every TicketHub table in primary-key order: equal hashes = identical data. */
async function tableHashes(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const out: Record<string, string> = {};
    for (const t of TICKETHUB_TABLES) {
      const r = await c.query(`SELECT md5(coalesce(string_agg((x.*)::text, E'\\n' ORDER BY x.id), '')) AS h FROM public.${t} x`);
      out[t] = r.rows[0].h;
    }
    return out;
  });
}

function runSeedScript(url: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  });
}

let a: TestDatabase;
let b: TestDatabase;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestDatabase({ migrate: true, prefix: 'seed_a' }), createTestDatabase({ migrate: true, prefix: 'seed_b' })]);
});
afterAll(async () => {
  await Promise.all([a?.drop(), b?.drop()]);
});

describe('demo seed', () => {
  it('fills all ten tables at scale 2000, identically in two fresh databases', async () => {
    const ra = await withClient(a.url, (c) => seedDemoData(c, { scale: 2000, baseDate: '2026-03-14' }));
    const rb = await withClient(b.url, (c) => seedDemoData(c, { scale: 2000, baseDate: '2026-03-14' }));
    for (const t of TICKETHUB_TABLES) expect(ra.counts[t], t).toBeGreaterThan(0);
    expect(ra.counts.tickets).toBe(2000);
    expect(ra.counts.telegram_users).toBe(500);
    expect(rb.counts).toEqual(ra.counts);
    const [ha, hb] = await Promise.all([tableHashes(a.url), tableHashes(b.url)]);
    expect(hb).toEqual(ha);
  });

  it('keeps Amharic text intact and produces consistent rows', async () => {
    await withClient(a.url, async (c) => {
      const staff = await c.query(`SELECT full_name FROM public.admin_users WHERE email = 'abebe.bekele@tickethub.local'`);
      expect(staff.rows[0].full_name).toBe('አበበ በቀለ');
      const ethiopic = await c.query(`SELECT count(*)::int AS n FROM public.telegram_users WHERE first_name ~ '[ሀ-ፚ]'`);
      expect(ethiopic.rows[0].n).toBeGreaterThan(100);
      const am = await c.query(`SELECT message FROM public.notifications WHERE message LIKE 'ክፍያዎ ጸድቋል%' LIMIT 1`);
      expect(am.rows[0].message).toMatch(/^ክፍያዎ ጸድቋል። ጉዞ፦ .+ → .+፣ \d{4}-\d\d-\d\d \d\d:\d\d፣ \d መቀመጫ።/);
      // A ticket belongs to its receipt's trip and customer; the first seat carries the buyer's name.
      const mismatched = await c.query(`
        SELECT count(*)::int AS n FROM public.tickets k JOIN public.receipts r ON r.id = k.receipt_id
        WHERE k.trip_id <> r.trip_id OR k.telegram_user_id <> r.telegram_user_id OR r.status <> 'approved'`);
      expect(mismatched.rows[0].n).toBe(0);
      const seats = await c.query(`SELECT r.seats, count(k.id)::int AS n FROM public.receipts r LEFT JOIN public.tickets k ON k.receipt_id = r.id
                                   WHERE r.status = 'approved' GROUP BY r.id HAVING count(k.id) <> r.seats`);
      expect(seats.rows).toEqual([]);
      const cities = await c.query(`SELECT DISTINCT origin FROM public.trips ORDER BY 1`);
      expect(cities.rows.map((r) => r.origin)).toContain('Bahir Dar');
      const amounts = await c.query(`SELECT count(*)::int AS n FROM public.receipts r JOIN public.trips t ON t.id = r.trip_id WHERE r.amount_etb <> t.price_etb * r.seats`);
      expect(amounts.rows[0].n).toBe(0);
    });
  });

  it('refuses a non-empty database without --force, and --force replaces it with the same data', async () => {
    const before = await tableHashes(a.url);
    const refused = runSeedScript(a.url, ['--scale', '2000']);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/already has TicketHub data .*--force/);
    expect(await tableHashes(a.url)).toEqual(before);

    // Rows added after seeding (and consumed sequence values) must not leak into a forced reseed.
    await withClient(a.url, (c) => c.query(`INSERT INTO public.activity_logs (action, entity_type, description) VALUES ('EXTRA', 'test', 'x')`));
    const forced = runSeedScript(a.url, ['--scale', '2000', '--force', '--base-date', '2026-03-14']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/emptied the ten TicketHub tables/);
    expect(await tableHashes(a.url)).toEqual(before);
  });

  it('dates the demo relative to the base date: today by default (upcoming trips exist, nothing else lies in the future); another base date shifts every timestamp', async () => {
    const c1 = await createTestDatabase({ migrate: true, prefix: 'seed_c' });
    const c2 = await createTestDatabase({ migrate: true, prefix: 'seed_d' });
    try {
      const today = runSeedScript(c1.url, ['--scale', '300']);
      expect(today.status, today.stderr).toBe(0);
      expect(today.stdout).toContain(`(base date ${new Date().toISOString().slice(0, 10)})`);
      await withClient(c1.url, async (c) => {
        const q = async (sql: string) => (await c.query(sql)).rows[0].n as number;
        expect(await q(`SELECT count(*)::int AS n FROM public.trips WHERE departure_at > now() AND status = 'scheduled'`)).toBeGreaterThan(0);
        expect(await q(`SELECT count(*)::int AS n FROM public.trips WHERE departure_at > now() AND status <> 'scheduled'`)).toBe(0);
        for (const [table, col] of [['receipts', 'created_at'], ['receipts', 'reviewed_at'], ['tickets', 'issued_at'], ['activity_logs', 'created_at'], ['admin_users', 'last_sign_in_at'], ['invitations', 'created_at'], ['trips', 'created_at'], ['notifications', 'sent_at']]) {
          expect(await q(`SELECT count(*)::int AS n FROM public.${table} WHERE ${col} > now()`), `${table}.${col} in the future`).toBe(0);
        }
      });
      const later = runSeedScript(c2.url, ['--scale', '300', '--base-date', '2030-01-01']);
      expect(later.status, later.stderr).toBe(0);
      const shift = await withClient(c2.url, async (c2c) =>
        withClient(c1.url, async (c1c) => {
          const t2 = (await c2c.query('SELECT departure_at FROM public.trips WHERE id = 1')).rows[0].departure_at as Date;
          const t1 = (await c1c.query('SELECT departure_at FROM public.trips WHERE id = 1')).rows[0].departure_at as Date;
          return (t2.getTime() - t1.getTime()) / 86_400_000;
        }),
      );
      expect(shift).toBe((Date.parse('2030-01-01') - Date.parse(new Date().toISOString().slice(0, 10))) / 86_400_000);
      const bad = runSeedScript(c2.url, ['--base-date', '2026-02-30', '--force']);
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim()).toBe("db:seed: --base-date must be a calendar date YYYY-MM-DD, got '2026-02-30'");
    } finally {
      await Promise.all([c1.drop(), c2.drop()]);
    }
  });

  it('rejects a bad scale and an unreachable database with one line', () => {
    const bad = runSeedScript(a.url, ['--scale', 'lots']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe("db:seed: --scale must be a whole number, got 'lots'");
    const down = runSeedScript('postgres://postgres@127.0.0.1:1/nope', []);
    expect(down.status).toBe(1);
    expect(down.stderr.trim()).toMatch(/^db:seed: cannot connect to the database: .*ECONNREFUSED/);
  });
});
