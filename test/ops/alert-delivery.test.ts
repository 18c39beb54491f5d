import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendAlert } from '../../lib/backup/alerts/send-alert';
import type { Alert } from '../../lib/backup/alerts/send-alert';
import { startReceiver } from './receiver';
import type { Receiver } from './receiver';

/**
 * Alert delivery against real HTTP receivers on loopback: what operators really configure (a
 * webhook URL with Basic credentials in it) and receivers that misbehave. Secrets never come back
 * in a delivery result (which is logged and written to the activity log).
 */
const ALERT: Alert = { event: 'backup_failed', backupId: '20260101T020000Z-abcdef12', message: 'storage failed', occurredAt: '2026-01-01T02:00:00.000Z' };

let hook: Receiver;
beforeAll(async () => {
  hook = await startReceiver();
});
afterAll(async () => {
  await hook?.close();
});

describe('webhook delivery', () => {
  it('a webhook URL with user:password is delivered with HTTP Basic auth, the credentials never in the URL sent or in the result', async () => {
    hook.received.length = 0;
    const url = hook.url.replace('http://', 'http://hook%20user:p%40ss-s3cret@') + '/hooks/backup?team=ops';
    const [d] = await sendAlert(ALERT, { BACKUP_ALERT_WEBHOOK_URL: url });
    expect(d).toMatchObject({ channel: 'webhook', ok: true, attempts: 1 });
    expect(hook.received).toHaveLength(1);
    const got = hook.received[0];
    expect(got.path).toBe('/hooks/backup?team=ops');
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from('hook user:p@ss-s3cret').toString('base64')}`);
    expect((got.body as { event: string }).event).toBe('backup_failed');
  });

  it('a failing webhook with credentials: the error names neither the password nor the URL', async () => {
    hook.received.length = 0;
    hook.status = 500;
    try {
      const url = hook.url.replace('http://', 'http://ops:p%40ss-s3cret@') + '/hooks/backup';
      const [d] = await sendAlert(ALERT, { BACKUP_ALERT_WEBHOOK_URL: url });
      expect(d).toMatchObject({ ok: false, attempts: 3, error: 'HTTP 500' });
    } finally {
      hook.status = 200;
    }
  });

  it('a redirect is not followed (the payload never goes to another host) and is reported', async () => {
    const target = await startReceiver();
    const redirector = http.createServer((_req, res) => {
      res.writeHead(307, { location: `${target.url}/stolen` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    try {
      const port = (redirector.address() as AddressInfo).port;
      const [d] = await sendAlert(ALERT, { BACKUP_ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook` });
      expect(d.ok).toBe(false);
      expect(target.received).toHaveLength(0);
    } finally {
      await new Promise<void>((r) => redirector.close(() => r()));
      await target.close();
    }
  });

  it('a receiver that accepts the connection and never answers: 3 bounded tries, then reported as no answer', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const hang = http.createServer(() => {
      /* never answers */
    });
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    try {
      const port = (hang.address() as AddressInfo).port;
      const [d] = await sendAlert(ALERT, { BACKUP_ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook` });
      expect(d).toMatchObject({ ok: false, attempts: 3 });
      expect(d.error).toMatch(/no answer/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => hang.close(() => r()));
    }
  }, 30_000);
});

describe('telegram delivery', () => {
  it('the bot token is in the request path only, never in a failure', async () => {
    hook.received.length = 0;
    hook.status = 401;
    try {
      const token = '123456:AAE-secret-bot-token';
      const [d] = await sendAlert(ALERT, { TELEGRAM_BOT_TOKEN: token, TELEGRAM_ALERT_CHAT_ID: '-100', TELEGRAM_API_BASE_URL: `${hook.url}/` });
      expect(hook.received[0].path).toBe(`/bot${token}/sendMessage`);
      expect(d).toMatchObject({ channel: 'telegram', ok: false, error: 'HTTP 401' });
      // Unreachable base URL: the network error names no token either.
      const [u] = await sendAlert(ALERT, { TELEGRAM_BOT_TOKEN: token, TELEGRAM_ALERT_CHAT_ID: '-100', TELEGRAM_API_BASE_URL: 'http://127.0.0.1:1' });
      expect(u.ok).toBe(false);
      expect(JSON.stringify(u)).not.toContain('secret-bot-token');
    } finally {
      hook.status = 200;
    }
  });

  it('a message longer than Telegram accepts (4096 characters) is shortened, so the alert still arrives', async () => {
    hook.received.length = 0;
    // "someone emptied every table": the anomaly names each table; one line, but long.
    const long = Array.from({ length: 200 }, (_, i) => `public.table_${i}: 0 rows against a median of 1${i}`).join('; ');
    const [d] = await sendAlert({ ...ALERT, event: 'anomaly', message: long }, { TELEGRAM_BOT_TOKEN: '1:t', TELEGRAM_ALERT_CHAT_ID: '-100', TELEGRAM_API_BASE_URL: hook.url, BACKUP_ALERT_LOCALE: 'am' });
    expect(d.ok).toBe(true);
    const text = (hook.received[0].body as { text: string }).text;
    expect(text.length).toBeLessThanOrEqual(4096);
    expect(text.startsWith('🟠')).toBe(true);
    expect(text.endsWith('…')).toBe(true);
  });
});
