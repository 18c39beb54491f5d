// GET /api/health – for uptime monitors: 200 {"status":"ok"} when the app and its database answer,
// else 503 {"status":"unavailable"}. Public on purpose, so it says nothing else (no versions, no errors).
import { getPool } from '@/lib/db/pool';

export const dynamic = 'force-dynamic';

const HEADERS = { 'cache-control': 'no-store' };

export async function GET(): Promise<Response> {
  try {
    await Promise.race([
      getPool().query('SELECT 1'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    ]);
    return Response.json({ status: 'ok' }, { status: 200, headers: HEADERS });
  } catch (err) {
    console.error(`[health] database check failed: ${(err as Error).message?.split('\n')[0]}`);
    return Response.json({ status: 'unavailable' }, { status: 503, headers: HEADERS });
  }
}
