import type { Queryable } from '../activity/log-activity';

/** The dashboard's headline numbers. */
export interface DashboardCounts {
  tickets: number;
  trips: number;
  upcomingTrips: number;
  pendingReceipts: number;
  customers: number;
}

/** Counts for the dashboard cards, in one round trip. */
export async function dashboardCounts(db: Queryable): Promise<DashboardCounts> {
  const { rows } = await db.query<Record<keyof DashboardCounts, string | number>>(
    `SELECT (SELECT count(*) FROM public.tickets) AS tickets,
            (SELECT count(*) FROM public.trips) AS trips,
            (SELECT count(*) FROM public.trips WHERE departure_at > now()) AS "upcomingTrips",
            (SELECT count(*) FROM public.receipts WHERE status = 'pending') AS "pendingReceipts",
            (SELECT count(*) FROM public.telegram_users) AS customers`,
  );
  const r = rows[0];
  return {
    tickets: Number(r.tickets), trips: Number(r.trips), upcomingTrips: Number(r.upcomingTrips),
    pendingReceipts: Number(r.pendingReceipts), customers: Number(r.customers),
  };
}
