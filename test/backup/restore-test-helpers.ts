import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { withClient } from '../helpers/db';
import { tableHashes } from '../helpers/table-hashes';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { localPgDumpMajor, pgDumpSchema, serverMajor } from '../helpers/schema-round-trip';

/** A local storage in a fresh temp directory. */
export async function tempStorage(): Promise<{ storage: StorageBackend; dir: string; url: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'restore-test-'));
  const url = `file://${dir}`;
  return { storage: openStorage(url), dir, url };
}

export async function seedTicketHub(url: string, scale = 300): Promise<void> {
  await withClient(url, (c) => seedDemoData(c, { scale }));
}

/** Takes a real backup with the engine (verification included). */
export async function backup(url: string, storage: StorageBackend, schemas?: string[]): Promise<string> {
  const r = await runBackup({ databaseUrl: url, storage, trigger: 'cli', schemas });
  return r.id;
}

/**
 * The schema as an oracle sees it: pg_dump --schema-only on servers pg_dump can read (15), the
 * catalog fingerprint elsewhere (17).
 */
export async function schemaOf(url: string, schemas: string[] = ['public']): Promise<string> {
  const pgd = await localPgDumpMajor();
  if (pgd !== null && pgd >= (await serverMajor(url))) return pgDumpSchema(url);
  return catalogFingerprint(url, schemas);
}

export async function hashesOf(url: string, schemas: string[] = ['public']): Promise<Record<string, { rows: number; hash: string }>> {
  return Object.fromEntries(await tableHashes(url, schemas));
}

export async function exec(url: string, sql: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(sql);
  });
}

export async function scalar<T = unknown>(url: string, sql: string): Promise<T> {
  return withClient(url, async (c) => Object.values((await c.query(sql)).rows[0] ?? {})[0] as T);
}
