import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTranslator } from 'next-intl';
import en from '../../messages/en.json';
import am from '../../messages/am.json';
import { generateKeyPair } from '../../lib/backup/encryption/encryption-keys';
import { backupsDashboard } from '../../lib/queries/backups-dashboard';
import { createTestDatabase } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

// The dashboard's configuration card and /api/admin/backups/stats give the same answer on
// encryption (issue 12): off, on for N recipients, or a setting that does not parse (every backup
// fails: never shown as "encrypted"). The "on" state in Chromium: test/browser/activity-i18n.test.ts.

let db: TestDatabase;
let pool: pg.Pool;
const saved = process.env.BACKUP_ENCRYPTION_RECIPIENTS;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'encstate' });
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
}, 120_000);

afterAll(async () => {
  if (saved === undefined) delete process.env.BACKUP_ENCRYPTION_RECIPIENTS;
  else process.env.BACKUP_ENCRYPTION_RECIPIENTS = saved;
  await pool?.end();
  await db?.drop();
});

describe('encryption state on the backups dashboard', () => {
  it('off, on for two recipients, and a broken setting, with the card text in both languages', async () => {
    const tEn = createTranslator({ locale: 'en', messages: en, namespace: 'backups.info' });
    const tAm = createTranslator({ locale: 'am', messages: am, namespace: 'backups.info' });

    delete process.env.BACKUP_ENCRYPTION_RECIPIENTS;
    expect((await backupsDashboard(pool)).info).toMatchObject({ encrypted: false, encryptionRecipients: 0, encryptionProblem: null });
    expect(tEn('encryptionOff')).toBe('Off: archives are stored unencrypted');
    expect(tAm('encryptionOff')).toMatch(/[\u1200-\u137F]/);

    const [a, b] = [(await generateKeyPair()).recipient, (await generateKeyPair()).recipient];
    process.env.BACKUP_ENCRYPTION_RECIPIENTS = `${a},${b}`;
    const on = (await backupsDashboard(pool)).info;
    expect(on).toMatchObject({ encrypted: true, encryptionRecipients: 2, encryptionProblem: null });
    expect(tEn('encryptionOn', { count: 2, recipients: '2' })).toBe('On (age): new backups are encrypted for 2 recipients; sizes are of the encrypted files');
    expect(tAm('encryptionOn', { count: 2, recipients: '2' })).toBe('በርቷል (age)፦ አዲስ ምትኬዎች ለ2 ተቀባዮች ይመሰጠራሉ፤ መጠኖቹ የተመሰጠሩት ፋይሎች ናቸው');

    process.env.BACKUP_ENCRYPTION_RECIPIENTS = `${a},age1notakey`;
    const broken = (await backupsDashboard(pool)).info;
    expect(broken).toMatchObject({ encrypted: false, encryptionRecipients: 0 });
    expect(broken.encryptionProblem).toMatch(/"age1notakey" is not an age recipient/);
    expect(broken.encryptionProblem).not.toContain('\n');
    expect(tEn('encryptionProblem', { problem: broken.encryptionProblem! })).toContain('Backups fail until BACKUP_ENCRYPTION_RECIPIENTS is fixed');
  });
});
