import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = path.resolve(import.meta.dirname, '../../messages');
const load = (l: string) => JSON.parse(readFileSync(path.join(dir, `${l}.json`), 'utf8')) as Record<string, unknown>;

/** Flattens nested catalogs to 'a.b.c' → value. */
function flatten(obj: Record<string, unknown>, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [kk, vv] of flatten(v as Record<string, unknown>, key)) out.set(kk, vv);
    else out.set(key, v);
  }
  return out;
}

/** The {argument} names an ICU message uses (top level: `{total, plural, ...}` gives total). */
function argumentsOf(msg: string): string[] {
  return [...new Set([...msg.matchAll(/\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*[,}]/g)].map((m) => m[1]))].sort();
}

describe('message catalogs', () => {
  const en = flatten(load('en'));
  const am = flatten(load('am'));

  it('English and Amharic have exactly the same keys', () => {
    expect([...am.keys()].sort()).toEqual([...en.keys()].sort());
  });

  it('no message is empty or a non-string', () => {
    for (const [name, cat] of [['en', en], ['am', am]] as const) {
      for (const [k, v] of cat) {
        expect(typeof v, `${name}:${k}`).toBe('string');
        expect((v as string).trim(), `${name}:${k}`).not.toBe('');
      }
    }
  });

  it('each translation uses the same placeholders as the English message', () => {
    for (const [k, v] of en) expect(argumentsOf(String(am.get(k))), k).toEqual(argumentsOf(String(v)));
  });

  // Names that are the same in both languages: each language's own name on the switch.
  const SAME_IN_BOTH = new Set(['language.en', 'language.am']);

  it('every Amharic message is translated: not a copy of the English one, and written in Ethiopic script', () => {
    const copies = [...en].filter(([k, v]) => !SAME_IN_BOTH.has(k) && am.get(k) === v).map(([k]) => k);
    expect(copies, 'Amharic value identical to the English one').toEqual([]);
    // Placeholders, ICU syntax, codes and proper nouns aside, a translated sentence has Ethiopic letters.
    const latinOnly = [...am].filter(([k, v]) => !SAME_IN_BOTH.has(k) && !/[\u1200-\u137F]/.test(String(v).replace(/\{[^{}]*\}/g, ''))).map(([k]) => k);
    expect(latinOnly, 'Amharic value without any Ethiopic text').toEqual([]);
  });

  it('the Amharic catalog is actually Amharic (Ethiopic script in the navigation)', () => {
    for (const k of ['nav.dashboard', 'nav.backups', 'nav.activity', 'login.submit']) expect(String(am.get(k)), k).toMatch(/[\u1200-\u137F]/);
    expect(am.get('nav.backups')).toBe('ምትኬዎች');
  });
});
