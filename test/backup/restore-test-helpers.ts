import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { contentShaOf, physicalMembers } from '../../lib/backup/manifest';
import type { Manifest, ManifestEntry } from '../../lib/backup/manifest';
import { archiveKey, manifestKey } from '../../lib/backup/manifest';
import { runBackup } from '../../lib/backup/run-backup';
import { openStorage } from '../../lib/storage/open-storage';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { seedDemoData } from '../../lib/seed/seed-demo-data';
import { withClient } from '../helpers/db';
import { tempDir } from '../helpers/temp-dirs';
import { tableHashes } from '../helpers/table-hashes';
import { catalogFingerprint } from '../helpers/catalog-fingerprint';
import { localPgDumpMajor, pgDumpSchema, serverMajor } from '../helpers/schema-round-trip';

/** A local storage in a fresh temp directory, removed when the test file ends. */
export async function tempStorage(): Promise<{ storage: StorageBackend; dir: string; url: string }> {
  const dir = await tempDir('restore-test-');
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

/**
 * Rewrites one member of a stored backup and fixes up everything a checksum could catch: the
 * member's SHA-256/lengths, every later offset, the archive's size and SHA-256 — and, for table
 * data, the table's content hash unless `keepTableHash`. What is left is a backup whose every
 * checksum agrees with a content that differs from what was backed up: only a restore that
 * compares the loaded tables with the recorded fingerprints can notice.
 */
export async function tamperMember(dir: string, id: string, pick: (e: ManifestEntry) => boolean, edit: (text: string) => string, opts: { keepTableHash?: boolean } = {}): Promise<ManifestEntry> {
  const mfile = path.join(dir, manifestKey(id));
  const afile = path.join(dir, archiveKey(id));
  const m = JSON.parse(await readFile(mfile, 'utf8')) as Manifest;
  const archive = await readFile(afile);
  const target = m.entries.find(pick);
  if (!target) throw new Error('no such member');
  const parts: Buffer[] = [];
  let offset = 0;
  // By gzip member: a packed one (format v3) holds several entries, each a slice of its text.
  for (const member of physicalMembers(m.entries)) {
    let gz = archive.subarray(member.offset, member.offset + member.length);
    if (member.entries.includes(target)) {
      const old = gunzipSync(gz);
      const texts = member.entries.map((e) => (e.part === undefined ? old : old.subarray(e.part, e.part + e.rawLength)));
      const i = member.entries.indexOf(target);
      const raw = Buffer.from(edit(texts[i].toString('utf8')), 'utf8');
      if (raw.equals(texts[i])) throw new Error('edit changed nothing');
      texts[i] = raw;
      target.sha256 = createHash('sha256').update(raw).digest('hex');
      target.rawLength = raw.length;
      let at = 0;
      for (const [j, e] of member.entries.entries()) {
        if (e.part !== undefined) e.part = at;
        at += texts[j].length;
      }
      gz = gzipSync(Buffer.concat(texts));
    }
    for (const e of member.entries) {
      e.offset = offset;
      e.length = gz.length;
      // (the compressed bytes' SHA-256 of a big table-data member, recomputed as well)
      if (e.gzSha256 !== undefined) e.gzSha256 = createHash('sha256').update(gz).digest('hex');
    }
    offset += gz.length;
    parts.push(gz);
  }
  const out = Buffer.concat(parts);
  m.archive.sizeBytes = out.length;
  m.archive.sha256 = createHash('sha256').update(out).digest('hex');
  if (!opts.keepTableHash) for (const t of m.tables) t.contentSha256 = contentShaOf(t.entries.map((i) => m.entries[i].sha256));
  await writeFile(afile, out);
  await writeFile(mfile, JSON.stringify(m, null, 2));
  return target;
}

/**
 * Samples, from another session, the lock-table entries (relations and other objects) each restore
 * connection (application_name 'tickethub-restore') of `url`'s database holds while `run` runs;
 * returns the most any one held and how many samples were taken.
 */
export async function restoreLockPeak<T>(url: string, run: () => Promise<T>): Promise<{ result: T; peak: number; samples: number }> {
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  let peak = 0;
  let samples = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const r = await probe.query<{ n: number }>(
        `SELECT coalesce(max(n), 0)::int AS n FROM (
           SELECT count(DISTINCT (l.locktype, l.relation, l.classid, l.objid)) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE a.application_name = 'tickethub-restore' AND a.datname = current_database() AND l.locktype IN ('relation', 'object')
            GROUP BY l.pid) x`,
      );
      peak = Math.max(peak, r.rows[0].n);
      samples++;
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  try {
    const result = await whenLockTableFree(run);
    return { result, peak, samples };
  } finally {
    running = false;
    await sampling;
    await probe.end();
  }
}

/**
 * Runs `run` (a restore that must fit the target's lock table), again every 2 s for up to 3 minutes
 * while it is refused because OTHER sessions hold part of that table: the test cluster is shared by
 * two test files at a time, and one creating 150 tables with 3,000 foreign keys in one transaction
 * holds ~5,000 entries for seconds (catalog-scale's 2,314-lock restore was refused in CI while
 * lock-budget-data-only.test.ts set up: "7808 locks (4960 in use)"). Any other failure, and a
 * refusal with nothing else in use, is thrown at once.
 */
export async function whenLockTableFree<T>(run: () => Promise<T>): Promise<T> {
  const until = Date.now() + 180_000;
  for (;;) {
    try {
      return await run();
    } catch (err) {
      const e = err as { code?: string; details?: { inUse?: number; locksNeeded?: number } };
      const othersHold = e.code === 'conflict' && typeof e.details?.locksNeeded === 'number' && (e.details.inUse ?? 0) > 0;
      if (!othersHold || Date.now() > until) throw err;
      await new Promise((res) => setTimeout(res, 2000));
    }
  }
}
