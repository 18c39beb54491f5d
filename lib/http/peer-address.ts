/**
 * The TCP peer address of a request, which route handlers otherwise cannot see: Next gives them
 * only headers, and `next start` fills X-Forwarded-For with the peer only when the client did not
 * send one itself (so a client can claim any address). instrumentation.ts installs a hook on the
 * Node HTTP server that writes the socket's address into PEER_HEADER on every request, overwriting
 * whatever the client sent under that name.
 */
export const PEER_HEADER = 'x-tickethub-peer';
/** 'https' when the connection itself is TLS (next start --experimental-https, a custom server), else 'http'. */
export const PEER_PROTO_HEADER = 'x-tickethub-proto';

/**
 * Next's route handler responses lose Content-Length (send-response.ts drops it, in case fetch
 * decoded a body). A route that streams a body of known size (a backup download) also sets this
 * header; the hook turns it back into Content-Length before the head is written, so browsers show
 * real download progress and a truncated transfer is detectable.
 */
export const CONTENT_LENGTH_HEADER = 'x-tickethub-content-length';

const FLAG = Symbol.for('tickethub.peerAddressHook');

/** True when this process's HTTP server sets PEER_HEADER itself (only then is the header trusted). */
export function peerHookInstalled(): boolean {
  return (globalThis as Record<symbol, unknown>)[FLAG] === true;
}

/** Installs the hook once per process (Node runtime only). */
export async function installPeerAddressHook(): Promise<void> {
  if (peerHookInstalled()) return;
  const http = await import('node:http');
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (this: InstanceType<typeof http.Server>, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request') {
      const req = args[0] as InstanceType<typeof http.IncomingMessage>;
      req.headers[PEER_HEADER] = req.socket?.remoteAddress ?? 'unknown';
      req.headers[PEER_PROTO_HEADER] = (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
    }
    return (emit as (this: unknown, ...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof emit;
  const writeHead = http.ServerResponse.prototype.writeHead;
  http.ServerResponse.prototype.writeHead = function (this: InstanceType<typeof http.ServerResponse>, ...args: unknown[]) {
    const len = this.getHeader(CONTENT_LENGTH_HEADER);
    if (len !== undefined) {
      this.removeHeader(CONTENT_LENGTH_HEADER);
      if (/^\d+$/.test(String(len)) && !this.getHeader('content-encoding')) {
        this.removeHeader('transfer-encoding');
        this.setHeader('content-length', String(len));
      }
    }
    return (writeHead as (this: unknown, ...a: unknown[]) => ReturnType<typeof writeHead>).apply(this, args);
  } as typeof writeHead;
  (globalThis as Record<symbol, unknown>)[FLAG] = true;
}
