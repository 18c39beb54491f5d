import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { runBackup } from '../../lib/backup/run-backup';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

const PASSWORD = 'correct horse battery';
const MISSING = '20200101T000000Z-abcdef12';
let db: TestDatabase;
let app: AppServer;
let storageDir: string;
const cookies: Record<'root' | 'admin' | 'staff', string> = { root: '', admin: '', staff: '' };

async function signIn(email: string): Promise<string> {
  const res = await fetch(`${app.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.2.0.1' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  return res.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))!.split(';')[0];
}

function call(method: string, p: string, cookie?: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
  return fetch(`${app.baseUrl}${p}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(cookie ? { cookie } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      'x-forwarded-for': '10.3.4.5',
      'user-agent': 'route-test/1.0',
      ...opts.headers,
    },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
}

const rowCount = async (sql: string, params: unknown[] = []) => withClient(db.url, async (c) => (await c.query(sql, params)).rows[0].n as number);
const files = () => readdirSync(storageDir).sort();

interface SseEvent {
  event: string;
  data: string;
}

/** Reads a text/event-stream to its end (or `limitMs`), calling onEvent for each event. */
async function readEvents(res: Response, onEvent?: (e: SseEvent) => void, limitMs = 90_000): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const r = await reader.read();
    if (r.done) break;
    buf += dec.decode(r.value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (ev && data !== undefined) {
        events.push({ event: ev, data });
        onEvent?.({ event: ev, data });
      }
    }
  }
  return events;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-backup-routes-'));
  await withClient(db.url, async (c) => {
    await seedDemoData(c, { scale: 200 });
    await upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD, fullName: 'አበበ ከበደ', role: 'super_admin' });
    await upsertAdmin(c, { email: 'boss@tickethub.et', password: PASSWORD, fullName: 'ሰላም ታደሰ', role: 'admin' });
    await upsertAdmin(c, { email: 'desk@tickethub.et', password: PASSWORD, fullName: 'Desk Staff', role: 'staff' });
  });
  app = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, TRUST_PROXY_HOPS: '1', BACKUP_RETENTION_MIN: '1' } });
  cookies.root = await signIn('root@tickethub.et');
  cookies.admin = await signIn('boss@tickethub.et');
  cookies.staff = await signIn('desk@tickethub.et');
}, 600_000);

afterAll(async () => {
  await app?.stop();
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

const ID_ROUTES = (id: string): [string, string, 'admin' | 'super'][] => [
  ['GET', `/api/admin/backups/${id}`, 'admin'],
  ['GET', `/api/admin/backups/${id}/events`, 'admin'],
  ['GET', `/api/admin/backups/${id}/download`, 'admin'],
  ['GET', `/api/admin/backups/${id}/manifest`, 'admin'],
  ['POST', `/api/admin/backups/${id}/verify`, 'admin'],
  ['POST', `/api/admin/backups/${id}/drill`, 'super'],
  ['DELETE', `/api/admin/backups/${id}`, 'super'],
];

describe('backup routes: who may call them', () => {
  it('401 without a session, 403 for staff (and for an admin on drill/delete), 400 for a malformed id, 404 for an unknown one', async () => {
    for (const [m, p, who] of [...ID_ROUTES(MISSING), ['POST', '/api/admin/backups/create?async=1', 'admin'] as [string, string, 'admin']]) {
      const anon = await call(m, p);
      expect(anon.status, `${m} ${p}`).toBe(401);
      expect((await anon.json()).error.code).toBe('unauthorized');
      const staff = await call(m, p, cookies.staff);
      expect(staff.status, `staff ${m} ${p}`).toBe(403);
      if (who === 'super') expect((await call(m, p, cookies.admin)).status, `admin ${m} ${p}`).toBe(403);
    }
    for (const [m, p] of ID_ROUTES('..%2F..%2Fetc%2Fpasswd')) {
      const res = await call(m, p, cookies.root);
      expect(res.status, `${m} ${p}`).toBe(400);
      expect((await res.json()).error.message).toMatch(/not a backup id/);
    }
    for (const [m, p] of ID_ROUTES(MISSING)) {
      const res = await call(m, p, cookies.root);
      expect(res.status, `${m} ${p}`).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    expect(await rowCount(`SELECT count(*)::int AS n FROM backup_runs`)).toBe(0);
    expect(files()).toEqual([]);
  });

  it('a method a route does not serve: 401 JSON without a session (like an unknown path), 405 JSON with Allow for an admin; nothing runs', async () => {
    const served: [string, string[]][] = [
      ['/api/admin/backups', ['GET']],
      ['/api/admin/backups/stats', ['GET']],
      ['/api/admin/backups/create', ['POST']],
      ['/api/admin/backups/export?table=tickets', ['GET']],
      [`/api/admin/backups/${MISSING}`, ['GET', 'DELETE']],
      [`/api/admin/backups/${MISSING}/verify`, ['POST']],
      [`/api/admin/backups/${MISSING}/drill`, ['POST']],
      [`/api/admin/backups/${MISSING}/download`, ['GET']],
      [`/api/admin/backups/${MISSING}/manifest`, ['GET']],
      [`/api/admin/backups/${MISSING}/events`, ['GET']],
      ['/api/admin/me', ['GET']],
    ];
    for (const [p, allowed] of served) {
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((x) => !allowed.includes(x))) {
        const anon = await call(m, p);
        expect(anon.status, `${m} ${p}`).toBe(401);
        expect((await anon.json()).error.code).toBe('unauthorized');
        const res = await call(m, p, cookies.root);
        expect(res.status, `root ${m} ${p}`).toBe(405);
        expect(res.headers.get('allow')).toBe(allowed.join(', '));
        expect((await res.json()).error.code).toBe('method_not_allowed');
      }
    }
    expect(await rowCount(`SELECT count(*)::int AS n FROM backup_runs`)).toBe(0);
  });

  it('refuses cross-site mutations with 403 (foreign Origin, Origin null, Sec-Fetch-Site cross-site) and starts nothing', async () => {
    const evil: Record<string, string>[] = [{ origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { origin: `http://127.0.0.1:${app.port + 1}` }];
    for (const headers of evil) {
      for (const [m, p] of [['POST', '/api/admin/backups/create?async=1'], ['POST', `/api/admin/backups/${MISSING}/verify`], ['DELETE', `/api/admin/backups/${MISSING}`]]) {
        const res = await call(m, p, cookies.root, { headers });
        expect(res.status, `${m} ${p} ${JSON.stringify(headers)}`).toBe(403);
        expect((await res.json()).error.message).toMatch(/cross-site/);
      }
    }
    expect(await rowCount(`SELECT count(*)::int AS n FROM backup_runs`)).toBe(0);
    // A GET from anywhere changes nothing and is not refused for its origin.
    expect((await call('GET', `/api/admin/backups/${MISSING}`, cookies.root, { headers: { origin: 'https://evil.example' } })).status).toBe(404);
  });

  it('POST create: a NUL, an escape, a C1 control or a bidirectional override in the description is 400, not 500, and starts nothing', async () => {
    for (const description of ['before\u0000after', 'red \u001b[31m text', 'csi \u009b31m text', 'invoice \u202egnp.exe', 'isolate \u2066x\u2069', 'line\u2028sep']) {
      const res = await call('POST', '/api/admin/backups/create?async=1', cookies.admin, { body: { description } });
      expect(res.status, JSON.stringify(description)).toBe(400);
      expect((await res.json()).error.message).toMatch(/control characters/);
    }
    expect((await call('POST', '/api/admin/backups/create?async=maybe', cookies.admin)).status).toBe(400);
    expect(await rowCount(`SELECT count(*)::int AS n FROM backup_runs`)).toBe(0);
  });
});

describe('backup routes: a backup from start to delete', () => {
  let id: string;

  it('create?async=1 answers 202 {id} at once (same-origin Origin accepted); events stream progress, then exactly one done', async () => {
    // Hold a lock the backup must wait for, so it is observably running when the stream opens.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE public.trips IN ACCESS EXCLUSIVE MODE');
    try {
      const res = await call('POST', '/api/admin/backups/create?async=1', cookies.admin, { body: { description: 'async ምትኬ' }, headers: { origin: app.baseUrl, 'sec-fetch-site': 'same-origin' } });
      expect(res.status, await res.clone().text()).toBe(202);
      id = (await res.json()).id;
      expect(id).toMatch(/^\d{8}T\d{6}Z-[0-9a-z]+$/);
      // While it runs: 409 for a second one, and GET shows it running.
      expect((await call('POST', '/api/admin/backups/create?async=1', cookies.admin)).status).toBe(409);
      const running = await (await call('GET', `/api/admin/backups/${id}`, cookies.admin)).json();
      expect(running.status).toBe('running');
      const ev = await call('GET', `/api/admin/backups/${id}/events`, cookies.admin);
      expect(ev.status).toBe(200);
      expect(ev.headers.get('content-type')).toMatch(/^text\/event-stream/);
      let released = false;
      const events = await readEvents(ev, (e) => {
        if (e.event === 'progress' && !released) {
          released = true;
          void blocker.query('COMMIT');
        }
      });
      const kinds = events.map((e) => e.event);
      expect(kinds[0]).toBe('progress');
      expect(kinds.filter((k) => k === 'done')).toHaveLength(1);
      expect(kinds.at(-1)).toBe('done');
      expect(kinds).not.toContain('failed');
      const p = JSON.parse(events[0].data);
      expect(p).toEqual(expect.objectContaining({ phase: expect.any(String), tablesDone: expect.any(Number), tablesTotal: expect.any(Number), rows: expect.any(Number), rawBytes: expect.any(Number), archiveBytes: expect.any(Number) }));
      const done = JSON.parse(events.at(-1)!.data);
      expect(done).toMatchObject({ id, status: 'succeeded', trigger: 'manual', description: 'async ምትኬ' });
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      await blocker.end();
    }
  });

  it('GET {id}: the backup with per-table rows and bytes, sha256 of the archive, verified', async () => {
    const res = await call('GET', `/api/admin/backups/${id}`, cookies.admin);
    expect(res.status).toBe(200);
    const b = await res.json();
    expect(Object.keys(b)).toEqual(expect.arrayContaining(['id', 'status', 'trigger', 'description', 'startedAt', 'finishedAt', 'durationMs', 'rows', 'sizeBytes', 'sha256', 'verified', 'drill', 'error', 'tables']));
    expect(b).toMatchObject({ status: 'succeeded', error: null, drill: null });
    expect(b.verified.ok).toBe(true);
    const trips = b.tables.find((t: { name: string }) => t.name === 'trips');
    expect(trips.rows).toBe(await rowCount(`SELECT count(*)::int AS n FROM trips`));
    expect(trips.bytes).toBeGreaterThan(0);
    expect(b.tables.reduce((s: number, t: { rows: number }) => s + t.rows, 0)).toBe(b.rows);
    expect(b.progress).toBeNull();
  });

  it('download: the archive streamed with Content-Length and attachment name; gunzip works and its SHA-256 equals the manifest', async () => {
    // HEAD: headers only, and no download is audited (checked by the activity-row test below).
    for (const file of ['download', 'manifest']) {
      const head = await call('HEAD', `/api/admin/backups/${id}/${file}`, cookies.admin);
      expect(head.status).toBe(200);
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    }
    const res = await call('GET', `/api/admin/backups/${id}/download`, cookies.admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}.sql.gz"`);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(gunzipSync(bytes).toString('utf8')).toContain('COPY');
    const man = await call('GET', `/api/admin/backups/${id}/manifest`, cookies.admin);
    expect(man.status).toBe(200);
    expect(man.headers.get('content-disposition')).toBe(`attachment; filename="${id}.manifest.json"`);
    const manifest = await man.json();
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.archive.sha256);
    expect(manifest.archive.sizeBytes).toBe(bytes.length);
  });

  it('verify: ok for the intact backup, recorded with the time', async () => {
    const ok = await call('POST', `/api/admin/backups/${id}/verify`, cookies.admin);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, archiveSha256Ok: true });
  });

  it('drill (super_admin): restores into a scratch database and passes; recorded on the run', async () => {
    const res = await call('POST', `/api/admin/backups/${id}/drill`, cookies.root);
    expect(res.status, await res.clone().text()).toBe(200);
    const d = await res.json();
    expect(d.ok).toBe(true);
    expect(d.rows).toBeGreaterThan(200);
    const b = await (await call('GET', `/api/admin/backups/${id}`, cookies.admin)).json();
    expect(b.drill.ok).toBe(true);
  });

  it('DELETE: 409 for the newest good backup (retention keeps it); an older one is removed, manifest and archive, and marked deleted', async () => {
    const keep = await call('DELETE', `/api/admin/backups/${id}`, cookies.root);
    expect(keep.status).toBe(409);
    expect((await keep.json()).error.message).toMatch(/retention keeps/);
    expect(files().filter((f) => f.startsWith(id))).toHaveLength(2);
    // A newer backup (from the CLI, another process) makes the first deletable with BACKUP_RETENTION_MIN=1.
    const storage = openStorage(storageDir);
    const newer = await runBackup({ databaseUrl: db.url, storage, trigger: 'cli' });
    await storage.close();
    const del = await call('DELETE', `/api/admin/backups/${id}`, cookies.root, { headers: { origin: app.baseUrl } });
    expect(del.status, await del.clone().text()).toBe(200);
    expect(files().filter((f) => f.startsWith(id))).toEqual([]);
    expect(files().filter((f) => f.startsWith(newer.id))).toHaveLength(2);
    const b = await (await call('GET', `/api/admin/backups/${id}`, cookies.admin)).json();
    expect(b.status).toBe('deleted');
    const hist = await (await call('GET', '/api/admin/backups', cookies.admin)).json();
    expect(hist.backups.map((x: { id: string }) => x.id)).toEqual([newer.id]);
    expect((await call('DELETE', `/api/admin/backups/${id}`, cookies.root)).status).toBe(409);
    expect((await call('GET', `/api/admin/backups/${id}/download`, cookies.admin)).status).toBe(404);
  });

  it('every mutation and download wrote an activity row with who, address and user agent', async () => {
    const rows = await withClient(db.url, async (c) =>
      (await c.query(`SELECT l.action, l.entity_id, l.ip_address, l.user_agent, a.email FROM activity_logs l JOIN admin_users a ON a.id = l.admin_user_id
                       WHERE l.action IN ('BACKUP_STARTED','BACKUP_DOWNLOADED','BACKUP_VERIFIED','BACKUP_DRILL','BACKUP_DELETED') ORDER BY l.id`)).rows,
    );
    expect(rows.map((r) => r.action)).toEqual(['BACKUP_STARTED', 'BACKUP_DOWNLOADED', 'BACKUP_DOWNLOADED', 'BACKUP_VERIFIED', 'BACKUP_DRILL', 'BACKUP_DELETED']);
    for (const r of rows) expect(r).toMatchObject({ entity_id: id, ip_address: '10.3.4.5', user_agent: 'route-test/1.0' });
    expect(rows.find((r) => r.action === 'BACKUP_DELETED')!.email).toBe('root@tickethub.et');
  });

  it('history pages with a cursor, newest first, and refuses a forged cursor', async () => {
    const storage = openStorage(storageDir);
    for (let i = 0; i < 3; i++) await runBackup({ databaseUrl: db.url, storage, trigger: 'cli', description: `page ${i}` });
    await storage.close();
    const first = await (await call('GET', '/api/admin/backups?limit=2', cookies.admin)).json();
    expect(first.backups).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await (await call('GET', `/api/admin/backups?limit=2&cursor=${first.nextCursor}`, cookies.admin)).json();
    expect(second.backups).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    const all = [...first.backups, ...second.backups].map((b: { id: string }) => b.id);
    expect(new Set(all).size).toBe(4);
    // Newest first = started_at descending, then id: two backups started in the same second may
    // have ids whose random tails sort the other way, so the ids alone are not the order.
    const keys = [...first.backups, ...second.backups].map((b: { id: string; startedAt: string }) => `${new Date(b.startedAt).toISOString()}|${b.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
    expect((await call('GET', '/api/admin/backups?cursor=bm9wZQ', cookies.admin)).status).toBe(400);
  });
});
