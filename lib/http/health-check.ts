/** Longest a health route waits for the database before answering 503 (uptime monitors time out around 10-30 s). */
export const HEALTH_DEADLINE_MS = 5_000;

const HEADERS = { 'cache-control': 'no-store' };

/** A health answer: JSON, never cached. */
export function healthResponse(body: Record<string, unknown>, status: number): Response {
  return Response.json(body, { status, headers: HEADERS });
}

/**
 * Runs a health check with a deadline: a database that accepts connections but never answers
 * gives 503 `{"status":"unavailable"}` in HEALTH_DEADLINE_MS instead of a request that hangs.
 * The cause is logged server-side only (the route is public).
 */
export async function checkHealth(what: string, check: () => Promise<Response>): Promise<Response> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_DEADLINE_MS} ms`)), HEALTH_DEADLINE_MS);
      }),
    ]);
  } catch (err) {
    console.error(`[health] ${what} failed: ${(err as Error).message?.split('\n')[0]}`);
    return healthResponse({ status: 'unavailable' }, 503);
  } finally {
    clearTimeout(timer);
  }
}
