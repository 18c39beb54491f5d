/**
 * The client address for throttling and auditing. Route handlers do not see the socket, only
 * X-Forwarded-For: `next start` fills it with the peer address when absent but keeps one the client
 * sent. Behind a reverse proxy that appends the peer (nginx `proxy_add_x_forwarded_for`, Vercel)
 * the LAST entry is the one a client cannot forge, so that is the one used; TRUST_PROXY_HOPS=N
 * skips N further trusted proxies. Exposed directly without a proxy, a client can choose its
 * address (known limitation: the per-address sign-in throttle is then per claimed address).
 */
export function clientIp(headers: Headers): string {
  const chain = (headers.get('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const hops = Math.max(0, Number(process.env.TRUST_PROXY_HOPS ?? 0) || 0);
  const ip = chain[chain.length - 1 - hops] ?? chain[0] ?? headers.get('x-real-ip') ?? 'unknown';
  return ip.replace(/^::ffff:/, '').slice(0, 100);
}
