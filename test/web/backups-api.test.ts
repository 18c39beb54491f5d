import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { EXPORTABLE_TABLES, exportColumns, isSecretColumn } from '../../lib/queries/table-export';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import { readZip } from '../helpers/zip';
import type { TestDatabase } from '../helpers/db';

const PASSWORD = 'correct horse battery';
const BOM = '\uFEFF';
let db: TestDatabase;
let app: AppServer;
let storageDir: string;
let adminCookie: string;
let staffCookie: string;

const ROUTES: [method: 'GET' | 'POST', path: string][] = [
  ['GET', '/api/admin/backups'],
  ['GET', '/api/admin/backups/stats'],
  ['POST', '/api/admin/backups/create'],
  ['GET', '/api/admin/backups/export?table=telegram_users'],
];

async function signIn(email: string): Promise<string> {
  const res = await fetch(`${app.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.2.0.1' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const sc = res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='));
  if (!sc) throw new Error('no session cookie');
  return sc.split(';')[0];
}

const call = (method: string, p: string, cookie?: string, body?: unknown) =>
  fetch(`${app.baseUrl}${p}`, {
    method,
    redirect: 'manual',
    headers: { ...(cookie ? { cookie } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), 'x-forwarded-for': '10.3.4.5' },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });

/** RFC 4180 records (quoted fields may hold commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-backups-api-'));
  await withClient(db.url, async (c) => {
    await seedDemoData(c, { scale: 200 });
    await upsertAdmin(c, { email: 'boss@tickethub.et', password: PASSWORD, fullName: 'ሰላም ታደሰ', role: 'admin' });
    await upsertAdmin(c, { email: 'desk@tickethub.et', password: PASSWORD, fullName: 'Desk Staff', role: 'staff' });
  });
  // Requests carry X-Forwarded-For as from one trusted proxy (the audit rows record that address).
  app = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, TRUST_PROXY_HOPS: '1' } });
  adminCookie = await signIn('boss@tickethub.et');
  staffCookie = await signIn('desk@tickethub.et');
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

describe('backups API access', () => {
  it('answers 401 JSON without a session on all four routes', async () => {
    for (const [m, p] of ROUTES) {
      const res = await call(m, p);
      expect(res.status, `${m} ${p}`).toBe(401);
      expect((await res.json()).error.code).toBe('unauthorized');
    }
  });

  it('answers 403 to staff on all four routes and runs no backup for them', async () => {
    for (const [m, p] of ROUTES) {
      const res = await call(m, p, staffCookie);
      expect(res.status, `${m} ${p}`).toBe(403);
      expect((await res.json()).error.code).toBe('forbidden');
    }
    expect(filesUnder(storageDir)).toEqual([]);
    const n = await withClient(db.url, (c) => c.query(`SELECT count(*)::int AS n FROM backup_runs`));
    expect(n.rows[0].n).toBe(0);
  });
});

describe('backups API for an admin', () => {
  let created: { id: string; status: string; tables: number; rows: number; sizeBytes: number; durationMs: number; sha256: string };

  it('POST create runs a manual backup: 200 with id/status/size and an archive in storage', async () => {
    const res = await call('POST', '/api/admin/backups/create', adminCookie, { description: 'before the fare change ለውጥ' });
    expect(res.status, await res.clone().text()).toBe(200);
    created = await res.json();
    expect(created).toMatchObject({ status: 'succeeded' });
    expect(created.id).toMatch(/^\d{8}T\d{6}Z-[0-9a-z]+$/);
    expect(created.tables).toBeGreaterThanOrEqual(10);
    expect(created.rows).toBeGreaterThan(200);
    expect(created.sizeBytes).toBeGreaterThan(0);
    expect(created.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(filesUnder(storageDir).some((f) => f.includes(created.id))).toBe(true);
  });

  it('POST create refuses a description over 500 characters (400) without starting a backup', async () => {
    const res = await call('POST', '/api/admin/backups/create', adminCookie, { description: 'x'.repeat(501) });
    expect(res.status).toBe(400);
    const n = await withClient(db.url, (c) => c.query(`SELECT count(*)::int AS n FROM backup_runs`));
    expect(n.rows[0].n).toBe(1);
  });

  it('POST create answers 409 with the engine message while another backup holds the lock', async () => {
    await withClient(db.url, async (c) => {
      await c.query('SELECT pg_advisory_lock(7263, 3)');
      try {
        const res = await call('POST', '/api/admin/backups/create', adminCookie);
        expect(res.status).toBe(409);
        expect((await res.json()).error.message).toMatch(/a backup is already running/);
      } finally {
        await c.query('SELECT pg_advisory_unlock(7263, 3)');
      }
    });
  });

  it('GET history lists the backup with who triggered it', async () => {
    const res = await call('GET', '/api/admin/backups?limit=30', adminCookie);
    expect(res.status).toBe(200);
    const { backups } = await res.json();
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({
      id: created.id, trigger: 'manual', status: 'succeeded', description: 'before the fare change ለውጥ',
      triggeredBy: { email: 'boss@tickethub.et', fullName: 'ሰላም ታደሰ' }, sizeBytes: created.sizeBytes, sha256: created.sha256,
      rowCount: created.rows, tableCount: created.tables, error: null, drillOk: null,
    });
    expect(backups[0].verifiedAt).not.toBeNull();
  });

  it('GET history rejects limit outside 1..100 with 400', async () => {
    for (const l of ['0', '101', 'abc', '2.5']) {
      const res = await call('GET', `/api/admin/backups?limit=${l}`, adminCookie);
      expect(res.status, l).toBe(400);
      expect((await res.json()).error.message).toMatch(/limit/);
    }
  });

  it('GET stats counts the backup', async () => {
    const res = await call('GET', '/api/admin/backups/stats', adminCookie);
    expect(res.status).toBe(200);
    const s = await res.json();
    expect(s).toMatchObject({ totalBackups: 1, successfulBackups: 1, failedBackups: 0, averageBackupSize: created.sizeBytes });
    expect(s.averageBackupSize).toBeGreaterThan(0);
    expect(Date.now() - new Date(s.lastBackupTime).getTime()).toBeLessThan(10 * 60_000);
    expect(s.lastFailure).toBeUndefined();
  });
});

describe('CSV export', () => {
  it('never exports a secret column: the computed column lists, table by table', async () => {
    await withClient(db.url, async (c) => {
      for (const t of EXPORTABLE_TABLES) {
        const cols = await exportColumns(c, t);
        expect(cols.length, t).toBeGreaterThan(1);
        expect(cols.filter((x) => /password|token|secret|hash/i.test(x)), t).toEqual([]);
      }
      expect(await exportColumns(c, 'admin_users')).toEqual(['id', 'email', 'full_name', 'role', 'is_active', 'last_sign_in_at', 'created_at', 'updated_at']);
      expect(await exportColumns(c, 'invitations')).toEqual(['id', 'email', 'role', 'invited_by', 'expires_at', 'accepted_at', 'created_at']);
    });
    expect(isSecretColumn('trips', 'api_secret')).toBe(true);
    expect(isSecretColumn('trips', 'origin')).toBe(false);
  });

  it('table=telegram_users downloads a BOM-prefixed CSV with every row and intact Amharic', async () => {
    const res = await call('GET', '/api/admin/backups/export?table=telegram_users', adminCookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const day = new Date().toISOString().slice(0, 10);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="tickethub-telegram_users-${day}.csv"`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    expect(text.startsWith(BOM)).toBe(true);
    const rows = parseCsv(text.slice(1));
    expect(rows[0]).toEqual(expect.arrayContaining(['id', 'telegram_id', 'first_name', 'last_name']));
    const { count, names } = await withClient(db.url, async (c) => ({
      count: (await c.query(`SELECT count(*)::int AS n FROM telegram_users`)).rows[0].n as number,
      names: (await c.query(`SELECT first_name FROM telegram_users WHERE first_name ~ '[ሀ-፿]' ORDER BY id LIMIT 5`)).rows.map((r) => r.first_name as string),
    }));
    expect(rows.length - 1).toBe(count);
    expect(names.length).toBeGreaterThan(0);
    const col = rows[0].indexOf('first_name');
    const exported = new Set(rows.slice(1).map((r) => r[col]));
    for (const n of names) expect(exported.has(n), n).toBe(true);
  });

  it('table=admin_users has no password_hash column and no argon2 hash anywhere', async () => {
    const res = await call('GET', '/api/admin/backups/export?table=admin_users', adminCookie);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('$argon2');
    expect(text).not.toContain('password_hash');
    const rows = parseCsv(text.replace(/^\uFEFF/, ''));
    expect(rows[0]).toEqual(['id', 'email', 'full_name', 'role', 'is_active', 'last_sign_in_at', 'created_at', 'updated_at']);
    expect(text).toContain('ሰላም ታደሰ');
  });

  it('refuses tables outside the whitelist with 400 naming the allowed tables', async () => {
    for (const t of ['pg_shadow', 'schema_migrations', 'backup_runs', 'admin_sessions', 'public.admin_users', 'x"; DROP TABLE trips; --']) {
      const res = await call('GET', `/api/admin/backups/export?table=${encodeURIComponent(t)}`, adminCookie);
      expect(res.status, t).toBe(400);
      const msg = (await res.json()).error.message as string;
      expect(msg).toContain('telegram_users');
      expect(msg).toContain('activity_logs');
    }
    expect((await call('GET', '/api/admin/backups/export', adminCookie)).status).toBe(400);
    expect((await call('GET', '/api/admin/backups/export?all=yes', adminCookie)).status).toBe(400);
  });

  it('all=true streams a ZIP: one BOM-prefixed <table>.csv per table, each with its header, and manifest.json', async () => {
    const res = await call('GET', '/api/admin/backups/export?all=true', adminCookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toMatch(/filename="tickethub-all-\d{4}-\d{2}-\d{2}\.zip"/);
    const files = await readZip(new Uint8Array(await res.arrayBuffer()));
    expect([...files.keys()].sort()).toEqual([...EXPORTABLE_TABLES.map((t) => `${t}.csv`), 'manifest.json'].sort());
    for (const t of EXPORTABLE_TABLES) {
      const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(files.get(`${t}.csv`)!);
      expect(text.startsWith(BOM), t).toBe(true);
      expect(text).not.toContain('$argon2');
      expect(text.slice(1).startsWith('id,'), t).toBe(true);
    }
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(manifest.source).toEqual({ kind: 'live' });
    expect(manifest.tables.find((x: { name: string }) => x.name === 'admin_users').redactedColumns).toEqual(['password_hash']);
  });

  it('logs DATA_EXPORTED with the table, admin and address, and no data', async () => {
    const { rows } = await withClient(db.url, (c) =>
      c.query(`SELECT l.entity_id, l.ip_address, l.metadata, l.description, a.email
                 FROM activity_logs l JOIN admin_users a ON a.id = l.admin_user_id
                WHERE l.action = 'DATA_EXPORTED' ORDER BY l.id`),
    );
    expect(rows.map((r) => r.entity_id)).toEqual(['telegram_users', 'admin_users', 'all']);
    for (const r of rows) {
      expect(r.email).toBe('boss@tickethub.et');
      expect(r.ip_address).toBe('10.3.4.5');
      expect(JSON.stringify(r)).not.toMatch(/[ሀ-፿]|\$argon2/);
    }
    expect(rows[2].metadata.tables).toHaveLength(10);
  });

  it('neutralises customer text that a spreadsheet would run as a formula, and leaves other text alone', async () => {
    const evil = '=HYPERLINK("http://evil.example","click")';
    await withClient(db.url, (c) =>
      c.query(`INSERT INTO telegram_users (telegram_id, username, first_name, last_name) VALUES (987654321, 'plain_user', $1, '@cmd')`, [evil]),
    );
    const res = await call('GET', '/api/admin/backups/export?table=telegram_users', adminCookie);
    expect(res.status).toBe(200);
    const rows = parseCsv((await res.text()).replace(/^\uFEFF/, ''));
    const head = rows[0];
    const row = rows.find((r) => r[head.indexOf('telegram_id')] === '987654321');
    expect(row).toBeDefined();
    expect(row![head.indexOf('first_name')]).toBe(`'${evil}`);
    expect(row![head.indexOf('last_name')]).toBe(`'@cmd`);
    expect(row![head.indexOf('username')]).toBe('plain_user');
    for (const r of rows.slice(1)) expect(r[head.indexOf('first_name')]).not.toMatch(/^[=+\-@]/);
  });
});
