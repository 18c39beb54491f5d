import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface Received {
  method: string;
  path: string;
  body: unknown;
  headers: http.IncomingHttpHeaders;
  at: number;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for a webhook (Slack/Mattermost) or the Telegram Bot
 * API. `status` decides the answer (e.g. 500 to test retries).
 */
export interface Receiver {
  url: string;
  received: Received[];
  status: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const r: Omit<Receiver, 'url' | 'close'> = { received: [], status: 200 };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        body = Buffer.concat(parts).toString('utf8');
      }
      r.received.push({ method: req.method ?? '', path: req.url ?? '', body, headers: req.headers, at: Date.now() });
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: r.status < 300 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as Receiver;
}

/** Events of the webhook payloads received so far. */
export const events = (r: Receiver) => r.received.map((x) => (x.body as { event?: string }).event);
