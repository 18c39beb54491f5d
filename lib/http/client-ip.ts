import { PEER_HEADER, peerHookInstalled } from './peer-address';

/**
 * The client address for throttling and auditing.
 * - TRUST_PROXY_HOPS=0 (default: the app is reached directly): X-Forwarded-For is ignored entirely
 *   (any client can write it); the address is the TCP peer (lib/http/peer-address.ts).
 * - TRUST_PROXY_HOPS=N (N reverse proxies in front, each appending the address it saw, like nginx
 *   `proxy_add_x_forwarded_for` or Vercel): the N-th entry from the right of X-Forwarded-For, the
 *   one the outermost trusted proxy wrote. Entries further left are the client's own words.
 */
export function clientIp(headers: Headers): string {
  const peer = peerHookInstalled() ? headers.get(PEER_HEADER) : null;
  const hops = Math.max(0, Math.trunc(Number(process.env.TRUST_PROXY_HOPS ?? 0) || 0));
  let ip = peer ?? 'unknown';
  if (hops > 0) {
    const chain = (headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    ip = chain[chain.length - hops] ?? ip;
  }
  return ip.replace(/^::ffff:/, '').slice(0, 100);
}
