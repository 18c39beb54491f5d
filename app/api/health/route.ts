// GET /api/health – for uptime monitors: 200 {"status":"ok"} when the app and its database answer,
// else 503 {"status":"unavailable"} (within HEALTH_DEADLINE_MS even when the database hangs).
// Public on purpose, so it says nothing else (no versions, no errors).
import { getPool } from '@/lib/db/pool';
import { checkHealth, healthResponse } from '@/lib/http/health-check';

export const dynamic = 'force-dynamic';

export async function GET(): Promise<Response> {
  return checkHealth('database check', async () => {
    await getPool().query('SELECT 1');
    return healthResponse({ status: 'ok' }, 200);
  });
}
