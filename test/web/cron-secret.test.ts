import { afterAll, describe, expect, it } from 'vitest';
import { withCron } from '../../lib/http/with-cron';

/**
 * CRON_SECRET as operators really set it: pasted with a trailing newline or spaces (an env file,
 * `echo $(openssl rand -hex 32)`), or "set" to nothing but blanks. HTTP cannot carry a header value
 * with leading/trailing whitespace (fetch and proxies strip it), so an untrimmed secret would 401
 * every delivery for ever, silently: no backups. A blank one is no secret at all.
 */
const SECRET = 'cron-secret-0123456789abcdef';

describe('withCron and the CRON_SECRET value', () => {
  const saved = process.env.CRON_SECRET;
  afterAll(() => {
    if (saved === undefined) delete process.env.CRON_SECRET;
    else process.env.CRON_SECRET = saved;
  });
  let calls = 0;
  const route = withCron(async () => {
    calls++;
    return Response.json({ ok: true });
  });
  const call = (auth?: string, url = 'http://x/api/cron/daily-backup') => route(new Request(url, { headers: auth ? { authorization: auth } : {} }));

  it('blank (spaces, tabs, newlines; 16+ of them) is not a secret: 503 config and the handler never runs, whatever the header', async () => {
    for (const blank of [' '.repeat(16), '\t'.repeat(20), ' \n'.repeat(12)]) {
      process.env.CRON_SECRET = blank;
      for (const auth of [undefined, `Bearer ${blank}`, 'Bearer', 'Bearer ']) {
        const res = await call(auth);
        expect(res.status, JSON.stringify([blank, auth])).toBe(503);
        expect((await res.json()).error.code).toBe('config');
      }
    }
    // 15 characters padded to 16+ with blanks is still too short.
    process.env.CRON_SECRET = `  ${'x'.repeat(15)}  `;
    expect((await call(`Bearer ${'x'.repeat(15)}`)).status).toBe(503);
    expect(calls).toBe(0);
  });

  it('a secret pasted with a trailing newline or surrounding spaces works with the header a scheduler can send', async () => {
    for (const stored of [`${SECRET}\n`, `  ${SECRET}  `, `\t${SECRET}\r\n`]) {
      process.env.CRON_SECRET = stored;
      const before = calls;
      const ok = await call(`Bearer ${SECRET}`);
      expect(ok.status, JSON.stringify(stored)).toBe(200);
      expect(calls).toBe(before + 1);
      expect((await call(`Bearer ${SECRET.slice(0, -1)}`)).status).toBe(401);
    }
  });

  it('the secret in the query string (or anywhere but the Authorization header) is 401', async () => {
    process.env.CRON_SECRET = SECRET;
    const before = calls;
    for (const q of [`secret=${SECRET}`, `token=${SECRET}`, `key=${SECRET}`, `authorization=Bearer%20${SECRET}`, `CRON_SECRET=${SECRET}`]) {
      const res = await call(undefined, `http://x/api/cron/daily-backup?${q}`);
      expect(res.status, q).toBe(401);
    }
    expect(calls).toBe(before);
  });
});
