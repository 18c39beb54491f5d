import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createTranslator } from 'next-intl';
import { describe, expect, it } from 'vitest';
import en from '../../messages/en.json';
import am from '../../messages/am.json';
import { ACTIVITY_ACTIONS, describeActivity, originOf } from './activity-labels';
import type { DescribableEntry } from './activity-labels';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f) ? [p] : [];
  });
}

const entry = (action: string, metadata: Record<string, unknown>, more: Partial<DescribableEntry> = {}): DescribableEntry => ({ action, entityId: null, metadata, adminName: null, ...more });

describe('activity log labels and descriptions', () => {
  it('every action code the app writes has a label in both catalogs (the stored code stays the code)', () => {
    const written = new Set<string>();
    // scripts/: `npm start` writes ADMIN_CREATED / ADMIN_UPDATED for ADMIN_EMAIL.
    for (const f of ['lib', 'app', 'cli', 'scripts'].flatMap((d) => sources(path.join(ROOT, d)))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\baction: (?:[^'\n]*\? )?'([A-Z][A-Z_]+)'(?: : '([A-Z][A-Z_]+)')?/g)) {
        written.add(m[1]);
        if (m[2]) written.add(m[2]);
      }
    }
    // The demo seed writes its actions from SQL.
    for (const m of readFileSync(path.join(ROOT, 'lib/seed/seed-demo-data.ts'), 'utf8').matchAll(/'((?:TRIP|RECEIPT|INVITATION|ADMIN)_[A-Z_]+)'/g)) written.add(m[1]);
    expect(written.size).toBeGreaterThan(15);
    expect([...written].filter((a) => !(ACTIVITY_ACTIONS as readonly string[]).includes(a))).toEqual([]);
    for (const a of ACTIVITY_ACTIONS) {
      expect(en.activity.actions[a], `en ${a}`).toBeTruthy();
      expect(am.activity.actions[a], `am ${a}`).toBeTruthy();
      expect(am.activity.actions[a], `am ${a} is translated`).not.toBe(en.activity.actions[a]);
    }
    expect(Object.keys(am.activity).sort()).toEqual(Object.keys(en.activity).sort());
    expect(Object.keys(am.activity.descriptions).sort()).toEqual(Object.keys(en.activity.descriptions).sort());
    // An action without a description template shows its stored (English) description in Amharic.
    const templated = Object.keys(en.activity.descriptions);
    expect(ACTIVITY_ACTIONS.filter((a) => !templated.some((k) => k === a || k.startsWith(`${a}_`))), 'actions without a translated description').toEqual([]);
  });

  it('descriptions are built from the metadata with numbers and sizes per locale, and render in both catalogs', () => {
    const receipt = entry('RECEIPT_APPROVED', { amount_etb: 12500, payment_method: 'telebirr', trip_id: 3 }, { entityId: '42' });
    expect(describeActivity(receipt, 'am')).toEqual({ key: 'RECEIPT_APPROVED', values: { id: '42', amount: '12,500', method: 'telebirr' } });
    const backup = entry('AUTOMATED_BACKUP', { rows: 2500000, tables: 14, sizeBytes: 123_400_000 });
    const tAm = createTranslator({ locale: 'am', messages: am, namespace: 'activity' });
    const tEn = createTranslator({ locale: 'en', messages: en, namespace: 'activity' });
    const d = describeActivity(backup, 'am')!;
    expect(tAm(`descriptions.${d.key}` as 'descriptions.ADMIN_SIGN_IN', d.values)).toMatch(/^ራስ-ሰር ዕለታዊ ምትኬ፦ 2,500,000 መዝገቦች በ14 ሰንጠረዦች፣ 123\.4 /);
    const e = describeActivity(backup, 'en')!;
    expect(tEn(`descriptions.${e.key}` as 'descriptions.ADMIN_SIGN_IN', e.values)).toBe('Automated daily backup: 2,500,000 records in 14 tables, 123.4 MB');
    // Without the values a template needs, no template: the stored description is shown.
    expect(describeActivity(entry('RECEIPT_APPROVED', {}, { entityId: '42' }), 'am')).toBeNull();
    expect(describeActivity(entry('BACKUP_DRILL', { ok: false, backupId: 'x' }), 'am')).toBeNull();
    expect(describeActivity(entry('SOMETHING_NEW', { a: 1 }), 'am')).toBeNull();
    // Every template renders (valid ICU) in both languages with the values describeActivity gives.
    const samples: DescribableEntry[] = [
      entry('ADMIN_SIGN_IN', {}, { adminName: 'ሰላም' }), entry('ADMIN_SIGN_OUT', { email: 'a@b.et' }), entry('ADMIN_SIGN_IN_FAILED', { email: 'a@b.et' }),
      entry('ADMIN_CREATED', { email: 'a@b.et', role: 'admin' }), entry('ADMIN_PASSWORD_RESET', { email: 'a@b.et' }),
      entry('TRIP_CREATED', { origin: 'Addis Ababa', destination: 'Hawassa' }), receipt, { ...receipt, action: 'RECEIPT_REJECTED' },
      entry('INVITATION_SENT', { email: 'a@b.et', role: 'staff' }), backup, { ...backup, action: 'MANUAL_BACKUP' },
      entry('BACKUP_STARTED', { backupId: 'b1' }), entry('BACKUP_DELETED', { backupId: 'b1' }), entry('BACKUP_FAILED', { error: 'disk full' }),
      entry('BACKUP_DOWNLOADED', { backupId: 'b1', file: 'manifest' }), entry('BACKUP_DOWNLOADED', { backupId: 'b1', file: 'archive' }), entry('BACKUP_VERIFIED', { backupId: 'b1', ok: true }),
      entry('BACKUP_VERIFIED', { backupId: 'b1', ok: false, problems: 2 }), entry('BACKUP_DRILL', { backupId: 'b1', ok: true, rows: 1000 }),
      entry('BACKUP_DRILL', { backupId: 'b1', ok: false, error: 'tickets: 3 rows, manifest says 4' }),
      entry('ADMIN_CREATED', { email: 'a@b.et', role: 'super_admin', source: 'start' }), entry('ADMIN_UPDATED', { email: 'a@b.et', role: 'super_admin' }),
      entry('BACKUP_RETENTION', { keepDays: 30, keepLast: 7, removed: [{ id: 'b1' }, { id: 'b2' }], failed: [] }),
      entry('BACKUP_RETENTION', { keepDays: 1, keepLast: 0, removed: [], failed: [{ id: 'b3', error: 'EACCES' }] }),
      entry('BACKUP_ALERT_FAILED', { event: 'backup_failed', channel: 'webhook', attempts: 3, error: 'HTTP 500' }),
      entry('DATA_EXPORTED', { tables: ['trips'], format: 'csv', source: 'live' }), entry('DATA_EXPORTED', { tables: ['trips', 'receipts'], format: 'zip', source: 'b1' }),
      entry('DATA_EXPORTED', { tables: ['trips'], format: 'csv', source: 'b1' }), entry('DATA_EXPORTED', { tables: ['trips'], format: 'zip', source: 'live' }),
    ];
    const used = new Set<string>();
    for (const s of samples) {
      for (const [locale, t] of [['am', tAm], ['en', tEn]] as const) {
        const x = describeActivity(s, locale);
        expect(x, `${s.action} ${locale}`).not.toBeNull();
        used.add(x!.key);
        const text = t(`descriptions.${x!.key}` as 'descriptions.ADMIN_SIGN_IN', x!.values);
        expect(text).not.toMatch(/[{}]|descriptions\./);
        for (const v of Object.values(x!.values)) expect(text, `${x!.key} ${locale}`).toContain(v);
      }
    }
    expect([...used].sort()).toEqual(Object.keys(en.activity.descriptions).sort());
    expect(tAm('descriptions.BACKUP_DOWNLOADED_manifest', { id: 'b1' })).toBe('የምትኬ b1 ማኒፌስት ወርዷል');
    expect(describeActivity(entry('BACKUP_DOWNLOADED', { backupId: 'b1', file: 'archive' }), 'en')).toEqual({ key: 'BACKUP_DOWNLOADED_archive', values: { id: 'b1' } });
  });

  it('the "IP" of an entry the app itself wrote (start, scheduled job, CLI) is shown as a translated origin, not the stored tag', () => {
    const tags = new Set<string>();
    for (const f of ['lib', 'app', 'cli', 'scripts'].flatMap((d) => sources(path.join(ROOT, d)))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bipAddress: '([^']+)'/g)) tags.add(m[1]);
    }
    expect(tags.size).toBeGreaterThanOrEqual(3);
    for (const tag of tags) {
      const origin = originOf(tag);
      expect(origin, tag).not.toBeNull();
      expect(en.activity.origins[origin!], tag).toBeTruthy();
      expect(am.activity.origins[origin!], tag).toMatch(/[\u1200-\u137F]/);
    }
    expect(originOf('192.0.2.44')).toBeNull();
    expect(originOf('2001:db8::1')).toBeNull();
    expect(originOf(null)).toBeNull();
  });
});
