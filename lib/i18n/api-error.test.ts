import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createTranslator } from 'next-intl';
import { describe, expect, it } from 'vitest';
import en from '../../messages/en.json';
import am from '../../messages/am.json';
import { API_ERROR_CODES, apiErrorText } from './api-error';
import type { Translate } from './api-error';

const ROOT = path.resolve(import.meta.dirname, '../..');
// Keys are computed at run time here, as in the components (useTranslations('apiErrors')).
const tEn = createTranslator({ locale: 'en', messages: en, namespace: 'apiErrors' }) as unknown as Translate;
const tAm = createTranslator({ locale: 'am', messages: am, namespace: 'apiErrors' }) as unknown as Translate;

describe('API errors the dashboard shows are translated', () => {
  it('every error code an API route can answer with has a sentence in both catalogs', () => {
    for (const code of API_ERROR_CODES) {
      expect(tEn(code), code).not.toMatch(/apiErrors\./);
      expect(tAm(code), code).toMatch(/[\u1200-\u137F]/);
    }
  });

  it('a known code gives the translated sentence; its specific message stays beside it as detail; generic ones are not repeated', () => {
    const busy = { error: { code: 'conflict', message: 'a backup is already running (20260101-000000-abcd)' } };
    expect(apiErrorText(tAm, busy, 409)).toBe(`${tAm('conflict')}፦ a backup is already running (20260101-000000-abcd)`);
    expect(apiErrorText(tEn, busy, 409)).toBe(`${tEn('conflict')}: a backup is already running (20260101-000000-abcd)`);
    expect(apiErrorText(tAm, { error: { code: 'unauthorized', message: 'Sign in first' } }, 401)).toBe(tAm('unauthorized'));
    expect(apiErrorText(tAm, { error: { code: 'internal', message: 'Internal server error' } }, 500)).toBe(tAm('internal'));
  });

  it('no answer, a body that is not our JSON, or an unknown code: still a translated sentence (with the HTTP status), never "network" or "[object Object]"', () => {
    expect(apiErrorText(tAm, null)).toBe(tAm('network'));
    expect(apiErrorText(tAm, '<html>Bad Gateway</html>', 502)).toBe(tAm('status', { status: 502 }));
    expect(apiErrorText(tAm, { error: { code: 'teapot', message: 'short and stout' } }, 418)).toBe(tAm('status', { status: 418 }));
    expect(tAm('status', { status: 502 })).toContain('502');
  });

  it('components never show an API error message, a status number or an exception text raw', () => {
    const dir = path.join(ROOT, 'components');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tsx'));
    const raw = files.flatMap((f) => {
      const text = readFileSync(path.join(dir, f), 'utf8');
      return [...text.matchAll(/error\??\.message|\?\? res\.status|\?\? 'network'|error: 'network'|String\(err\)/g)].map((m) => `${f}: ${m[0]}`);
    });
    expect(raw).toEqual([]);
  });
});
