import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppServer } from '../helpers/app-server';
import type { AppServer } from '../helpers/app-server';
import { createTestDatabase, serverUrl } from '../helpers/db';
import type { TestDatabase } from '../helpers/db';

/**
 * The worst kind of database outage for a web app: the address still accepts TCP connections but
 * nothing answers (a stuck server or pooler, a half-open network path). Uptime monitors must get a
 * 503 JSON from both health routes, and the app must come back by itself when the database does:
 * connections stuck in their start-up must not hold the pool's slots forever.
 */
let db: TestDatabase;
let app: AppServer;
let proxy: net.Server;
let mode: 'silent' | 'pass' = 'silent';
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  db = await createTestDatabase({ migrate: true, prefix: 'healthdown' });
  const target = new URL(serverUrl());
  proxy = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (mode === 'silent') return; // accepts, never answers
    const up = net.connect(Number(target.port || 5432), target.hostname);
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as AddressInfo).port;
  const url = new URL(db.url);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  // A small pool makes "every slot stuck" easy to reach.
  app = await startAppServer({ databaseUrl: url.href, env: { DATABASE_POOL_MAX: '2' } });
}, 600_000);

afterAll(async () => {
  await app?.stop();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await db?.drop();
});

const health = async (p: string) => {
  const res = await fetch(`${app.baseUrl}${p}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('health routes while the database accepts connections but never answers', () => {
  it('/api/health and /api/health/backups answer 503 JSON saying only "unavailable" (more callers than pool slots)', async () => {
    const all = await Promise.all([...Array(4)].flatMap(() => [health('/api/health'), health('/api/health/backups')]));
    for (const r of all) expect(r).toEqual({ status: 503, body: { status: 'unavailable' } });
  }, 120_000);

  it('the database answers again: the app recovers by itself (no pool slot is held by a dead start-up)', async () => {
    mode = 'pass';
    expect(await health('/api/health')).toEqual({ status: 200, body: { status: 'ok' } });
    const b = await health('/api/health/backups');
    expect(b.status).toBe(503);
    expect(b.body.status).toBe('never');
  }, 120_000);
});
