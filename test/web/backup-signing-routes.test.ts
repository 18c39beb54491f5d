import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAdmin } from '../../lib/auth/admin-users';
import { UNSIGNED_WARNING } from '../../lib/backup/manifest-signature';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, withClient } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

/**
 * Issue 7, item 2 over HTTP: GET /api/admin/backups and /api/admin/backups/{id} carry each backup's
 * signature state, and without BACKUP_SIGNING_KEY the plain warning; the dashboard shows it (en, am).
 */

const PASSWORD = 'correct horse battery';
const KEY_A = `${'a'.repeat(24)}-signing-key-for-tests-0001`;
const KEY_B = `${'b'.repeat(24)}-signing-key-for-tests-0002`;
const en = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/en.json'), 'utf8'));
const am = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../messages/am.json'), 'utf8'));

let db: TestDatabase;
let storageDir: string;
const ids = { unsigned: '', signedA: '', signedB: '' };

async function backupWithKey(key: string | undefined): Promise<string> {
  const saved = process.env.BACKUP_SIGNING_KEY;
  if (key) process.env.BACKUP_SIGNING_KEY = key;
  else delete process.env.BACKUP_SIGNING_KEY;
  try {
    return (await runBackup({ databaseUrl: db.url, storage: openStorage(storageDir), trigger: 'cli' })).id;
  } finally {
    if (saved === undefined) delete process.env.BACKUP_SIGNING_KEY;
    else process.env.BACKUP_SIGNING_KEY = saved;
  }
}

async function withApp<T>(env: Record<string, string | undefined>, fn: (call: (method: string, p: string, extraCookie?: string) => Promise<Response>) => Promise<T>): Promise<T> {
  const app: AppServer = await startAppServer({ databaseUrl: db.url, env: { BACKUP_STORAGE_URL: storageDir, BACKUP_SCHEDULE: 'off', ...env } });
  try {
    const login = await fetch(`${app.baseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'root@tickethub.et', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('tickethub_session='))!.split(';')[0];
    return await fn((method, p, extraCookie) => fetch(`${app.baseUrl}${p}`, { method, redirect: 'manual', headers: { cookie: extraCookie ? `${cookie}; ${extraCookie}` : cookie } }));
  } finally {
    await app.stop();
  }
}

/** The configuration card's signing line as the server rendered it. */
const signingLine = (html: string) => /data-info="signing"[^>]*>([^<]*)</.exec(html)?.[1];

type Signature = { state: string; refused: boolean; message: string } | null;
async function listed(call: (m: string, p: string) => Promise<Response>): Promise<{ signing: unknown; byId: Map<string, Signature> }> {
  const res = await call('GET', '/api/admin/backups?limit=100');
  expect(res.status).toBe(200);
  const body = (await res.json()) as { signing: unknown; backups: { id: string; signature: Signature }[] };
  return { signing: body.signing, byId: new Map(body.backups.map((b) => [b.id, b.signature])) };
}
async function detail(call: (m: string, p: string) => Promise<Response>, id: string): Promise<Signature> {
  const res = await call('GET', `/api/admin/backups/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { signature: Signature }).signature;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'signhttp' });
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'th-signing-routes-'));
  await withClient(db.url, (c) => upsertAdmin(c, { email: 'root@tickethub.et', password: PASSWORD, fullName: 'አበበ ከበደ', role: 'super_admin' }));
  ids.unsigned = await backupWithKey(undefined);
  ids.signedA = await backupWithKey(KEY_A);
  ids.signedB = await backupWithKey(KEY_B);
}, 300_000);

afterAll(async () => {
  await db?.drop();
  if (storageDir) rmSync(storageDir, { recursive: true, force: true });
});

describe('signature state over HTTP', () => {
  it('without BACKUP_SIGNING_KEY: every backup is unsigned with the plain warning, in the list, the detail and the dashboard (en and am)', async () => {
    await withApp({ BACKUP_SIGNING_KEY: undefined }, async (call) => {
      const unsigned = { state: 'unsigned', refused: false, message: UNSIGNED_WARNING };
      const l = await listed(call);
      expect(l.signing).toEqual({ configured: false, warning: UNSIGNED_WARNING });
      for (const id of Object.values(ids)) {
        expect(l.byId.get(id), id).toEqual(unsigned);
        expect(await detail(call, id), id).toEqual(unsigned);
      }
      const page = await (await call('GET', '/admin/backups')).text();
      expect(signingLine(page)).toBe(en.backups.info.signingOff);
      expect(en.backups.info.signingOff).toContain(UNSIGNED_WARNING);
      const amPage = await (await call('GET', '/admin/backups', 'NEXT_LOCALE=am')).text();
      expect(signingLine(amPage)).toBe(am.backups.info.signingOff);
    });
  }, 300_000);

  it('with BACKUP_SIGNING_KEY: signed, unsigned (refused) and signed with another key (bad) are told apart; a manifest changed in storage is bad after its verification', async () => {
    await withApp({ BACKUP_SIGNING_KEY: KEY_A }, async (call) => {
      const l = await listed(call);
      expect(l.signing).toEqual({ configured: true, warning: null });
      const expected: Record<keyof typeof ids, { state: string; refused: boolean }> = {
        unsigned: { state: 'unsigned', refused: true },
        signedA: { state: 'signed', refused: false },
        signedB: { state: 'bad', refused: true },
      };
      for (const [k, want] of Object.entries(expected) as [keyof typeof ids, { state: string; refused: boolean }][]) {
        expect(l.byId.get(ids[k]), k).toMatchObject(want);
        expect(await detail(call, ids[k]), k).toMatchObject(want);
      }
      expect(await detail(call, ids.signedB)).toMatchObject({ message: expect.stringMatching(/signed with another key/) });
      const page = await (await call('GET', '/admin/backups')).text();
      expect(signingLine(page)).toBe(en.backups.info.signingOn);
      // Each row's Verified cell names its signature (the joined text exists only where a row rendered it).
      for (const k of ['signed', 'missing', 'bad'] as const) expect(page).toContain(`${en.backups.history.verifiedOk} · ${en.backups.history.signature[k]}`);

      // Someone who can write to the storage edits the signed manifest (the run's own copy in the
      // database is unchanged): the verification says so and from then on the API says 'bad'.
      const file = path.join(storageDir, `${ids.signedA}.manifest.json`);
      const m = JSON.parse(readFileSync(file, 'utf8'));
      m.description = 'harmless, honest';
      writeFileSync(file, JSON.stringify(m));
      const v = await call('POST', `/api/admin/backups/${ids.signedA}/verify`);
      expect(v.status).toBe(200);
      expect(await v.json()).toMatchObject({ ok: false, signature: 'invalid' });
      expect((await listed(call)).byId.get(ids.signedA)).toMatchObject({ state: 'bad', refused: true });
      expect(await detail(call, ids.signedA)).toMatchObject({ state: 'bad', refused: true });
    });
  }, 300_000);
});
