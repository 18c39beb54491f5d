import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdentAlways } from '../backup/catalog/quote-ident';
import { storageArchiveSource } from '../backup/archive-reader';
import type { ArchiveSource } from '../backup/archive-reader';
import { readManifest } from '../backup/list-backups';
import type { Manifest, ManifestEntry, ManifestTable } from '../backup/manifest';
import { describeEntry } from '../backup/manifest';
import { TableDataScanner } from '../backup/member-check';
import { checkManifest } from '../backup/restore/preflight';
import { AppError } from '../errors';
import type { TicketHubTable } from '../seed/seed-demo-data';
import type { StorageBackend } from '../storage/storage-backend';
import type { ExportSource } from './table-export';

const q = quoteIdentAlways;

async function loadMember(client: pg.PoolClient, source: ArchiveSource, id: string, e: ManifestEntry, table: ManifestTable, relation: string): Promise<void> {
  // Through the archive source: an encrypted backup (<id>.sql.gz.age) is decrypted on the way.
  const compressed = await source.openArchive({ start: e.offset, end: e.offset + e.length - 1 });
  const hash = createHash('sha256');
  // The member must be exactly its table's COPY line, rows and the terminator (as restore checks it).
  const scanner = new TableDataScanner(table, `backup ${id}: ${describeEntry(e)}`);
  // Stopped at the size the manifest records: a gzip bomb never reaches the database.
  let raw = 0;
  async function* rows(gunzipped: AsyncIterable<Buffer>) {
    for await (const c of gunzipped) {
      raw += c.length;
      if (raw > e.rawLength) throw new AppError('corrupt', `backup ${id}: ${describeEntry(e)} decompresses to more than the ${e.rawLength} bytes the manifest records (tampered or a gzip bomb?)`);
      hash.update(c);
      yield* scanner.push(c);
    }
    scanner.end();
  }
  const copy = client.query(copyFrom(`COPY ${relation} (${table.columns.map(q).join(', ')}) FROM STDIN`));
  try {
    await pipeline(compressed, zlib.createGunzip(), rows, copy);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const msg = String((err as Error).message ?? err);
    if (/incorrect header|unexpected end|invalid|zlib/i.test(msg)) throw new AppError('corrupt', `backup ${id}: member ${e.index} (${e.name}) does not decompress`);
    throw err;
  }
  if (hash.digest('hex') !== e.sha256) throw new AppError('corrupt', `backup ${id}: the data of ${e.name} (member ${e.index}) does not match its checksum`);
}

/**
 * Export source reading a backup's archive: each requested table's data members are checked
 * against the manifest's SHA-256 and loaded into a temporary table of the same name (shaped LIKE
 * the live table, dropped at commit) in the export's transaction, so the export shows the table
 * as of the backup's snapshot with exactly the live export's formatting. A table the backup does
 * not hold, or a member that does not verify, fails before any byte is sent.
 */
export function backupExportSource(storage: StorageBackend, id: string): ExportSource & { manifest(): Promise<Manifest> } {
  let manifest: Manifest | null = null;
  const archive = storageArchiveSource(storage, id);
  // Checked like a restore checks it: signature (with BACKUP_SIGNING_KEY), id, consistency.
  const load = async () => {
    if (manifest) return manifest;
    const m = await readManifest(storage, id);
    checkManifest(m, id, `backup ${id} in ${storage.location}`);
    return (manifest = m);
  };
  return {
    label: id,
    manifest: load,
    async prepare(client, tables: readonly TicketHubTable[]) {
      const m = await load();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      for (const t of tables) {
        const mt = m.tables.find((x) => x.schema === 'public' && x.name === t);
        if (!mt) throw new AppError('not_found', `backup ${id} has no table ${t}`);
        await client.query(`CREATE TEMP TABLE ${q(t)} (LIKE public.${q(t)}) ON COMMIT DROP`);
        for (const i of mt.entries) {
          const e = m.entries[i];
          if (!e || e.section !== 'table-data') throw new AppError('corrupt', `backup ${id}: manifest entry ${i} of ${t} is not table data`);
          await loadMember(client, archive, id, e, mt, `pg_temp.${q(t)}`);
        }
      }
      return new Date(m.startedAt);
    },
    relation: (t) => `pg_temp.${q(t)}`,
  };
}
