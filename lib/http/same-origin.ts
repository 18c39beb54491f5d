import { AppError } from '../errors';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The host (host[:port]) this request was addressed to, as the browser saw it. */
function requestHost(req: Request): string | null {
  // Behind a trusted proxy the browser talked to the proxy's host; without one the header is the client's word.
  const trusted = (Number(process.env.TRUST_PROXY_HOPS ?? 0) || 0) > 0;
  const forwarded = trusted ? req.headers.get('x-forwarded-host')?.split(',')[0]?.trim() : undefined;
  return (forwarded || req.headers.get('host') || new URL(req.url).host || '').toLowerCase() || null;
}

/**
 * Refuses a state-changing request a browser sent from another site (CSRF): 403 when
 * `Sec-Fetch-Site` says cross-site or same-site (a sibling subdomain is another site's code), or
 * when `Origin` is present and is not this app's own origin (`null` included). GET/HEAD are never
 * refused (they change nothing). A request with neither header comes from a non-browser client
 * (curl, scripts), which cannot ride a victim's cookies, and passes.
 */
export function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method.toUpperCase())) return;
  const site = req.headers.get('sec-fetch-site')?.toLowerCase();
  if (site === 'cross-site' || site === 'same-site') {
    throw new AppError('forbidden', `cross-site request refused (Sec-Fetch-Site: ${site})`);
  }
  const origin = req.headers.get('origin');
  if (origin === null) return;
  let host: string | null;
  try {
    host = origin === 'null' ? null : new URL(origin).host.toLowerCase();
  } catch {
    host = null;
  }
  if (!host || host !== requestHost(req)) {
    throw new AppError('forbidden', `cross-site request refused (Origin ${JSON.stringify(origin.slice(0, 200))} is not this site)`);
  }
}
