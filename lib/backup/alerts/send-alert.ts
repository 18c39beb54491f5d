import { oneLine } from '../../errors';
import { alertLocaleFromEnv, alertText, severityOf } from './alert-messages';
import type { AlertEvent } from './alert-messages';

/** One alert as it goes out. `message` is the one-line cause in English (for logs and webhooks). */
export interface Alert {
  event: AlertEvent;
  backupId: string | null;
  message: string;
  occurredAt: string;
  /** Values of the localized text (see the `alerts` catalog in messages/*.json). */
  values?: Record<string, string | number | null>;
}

/** Outcome per channel; `error` is a one-line cause without secrets. */
export interface DeliveryResult {
  channel: 'webhook' | 'telegram';
  ok: boolean;
  attempts: number;
  error?: string;
}

type Env = Record<string, string | undefined>;

/** Retries of a failing notification: 3 tries, short backoff, each try bounded (never holds up a backup long). */
export const DELIVERY = { tries: 3, backoffMs: [250, 750], timeoutMs: 1500 } as const;

export function alertChannels(env: Env = process.env): { webhook: string | null; telegram: { token: string; chatId: string; base: string } | null } {
  const webhook = env.BACKUP_ALERT_WEBHOOK_URL?.trim() || null;
  const token = env.TELEGRAM_BOT_TOKEN?.trim();
  const chatId = env.TELEGRAM_ALERT_CHAT_ID?.trim();
  const base = (env.TELEGRAM_API_BASE_URL?.trim() || 'https://api.telegram.org').replace(/\/+$/, '');
  return { webhook, telegram: token && chatId ? { token, chatId, base } : null };
}

/** The localized text of an alert: the Slack/Mattermost `text` of the webhook and the Telegram message. */
export function renderAlert(a: Alert, env: Env = process.env): string {
  const locale = alertLocaleFromEnv(env);
  return alertText(locale, a.event, { backupId: a.backupId ?? '—', message: a.message, ...a.values });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Telegram's sendMessage refuses longer text (400 "message is too long"): the alert would never arrive. */
export const TELEGRAM_MAX_TEXT = 4096;

/** `s` cut to at most `max` UTF-16 units (what Telegram counts), ending with '…' when cut; never half a surrogate pair. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * A URL with `user:password@` (a webhook behind HTTP Basic auth) cannot be fetched as it is (fetch
 * refuses URLs with credentials): the credentials become an Authorization header and leave the URL.
 */
function splitCredentials(raw: string): { url: string; headers: Record<string, string>; secrets: string[] } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { url: raw, headers: {}, secrets: [] };
  }
  if (!u.username && !u.password) return { url: raw, headers: {}, secrets: [] };
  const encoded = [u.username, u.password];
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  // The URL without credentials may still be a secret (a Slack webhook's path is its key).
  const secrets = [u.href, ...encoded, user, password].filter((x) => x.length >= 3);
  return { url: u.href, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }, secrets };
}

async function postJson(rawUrl: string, body: unknown, redact: (s: string) => string): Promise<void> {
  const { url, headers, secrets } = splitCredentials(rawUrl);
  const hide = (s: string) => secrets.reduce((acc, x) => acc.split(x).join('***'), redact(s));
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(DELIVERY.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    // No `cause`: the original error may carry the URL (a Telegram bot token) and this one is logged.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(hide(oneLine(e.name === 'TimeoutError' ? `no answer within ${DELIVERY.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message))));
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

async function withRetries(channel: DeliveryResult['channel'], send: () => Promise<void>): Promise<DeliveryResult> {
  let last = '';
  for (let i = 0; i < DELIVERY.tries; i++) {
    if (i > 0) await sleep(DELIVERY.backoffMs[i - 1]);
    try {
      await send();
      return { channel, ok: true, attempts: i + 1 };
    } catch (err) {
      last = (err as Error).message;
    }
  }
  return { channel, ok: false, attempts: DELIVERY.tries, error: last };
}

/**
 * Sends one alert to every configured channel, in parallel, each retried (3 tries with backoff,
 * every try bounded): the whole call ends within about five seconds whatever the receivers do.
 * Never throws. The Telegram bot token is part of the API URL: it never appears in a result.
 */
export async function sendAlert(a: Alert, env: Env = process.env): Promise<DeliveryResult[]> {
  const { webhook, telegram } = alertChannels(env);
  const text = renderAlert(a, env);
  const jobs: Promise<DeliveryResult>[] = [];
  if (webhook) {
    const hideUrl = (s: string) => s.split(webhook).join('<webhook>');
    const payload = { event: a.event, severity: severityOf(a.event), backupId: a.backupId, message: a.message, occurredAt: a.occurredAt, text };
    jobs.push(withRetries('webhook', () => postJson(webhook, payload, hideUrl)));
  }
  if (telegram) {
    const hideToken = (s: string) => s.split(telegram.token).join('<token>');
    const url = `${telegram.base}/bot${telegram.token}/sendMessage`;
    jobs.push(withRetries('telegram', () => postJson(url, { chat_id: telegram.chatId, text: clip(text, TELEGRAM_MAX_TEXT), disable_web_page_preview: true }, hideToken)));
  }
  return Promise.all(jobs);
}
