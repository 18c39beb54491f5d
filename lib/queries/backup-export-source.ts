import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdentAlways } from '../backup/catalog/quote-ident';
import { storageArchiveSource } from '../backup/archive-reader';
import type { ArchiveSource } from '../backup/archive-reader';
import { readManifest } from '../backup/list-backups';
import type { Manifest, ManifestEntry } from '../backup/manifest';
import { AppError } from '../errors';
import type { TicketHubTable } from '../seed/seed-demo-data';
import type { StorageBackend } from '../storage/storage-backend';
import type { ExportSource } from './table-export';

const q = quoteIdentAlways;

/**
 * Strips a table-data member down to its rows: drops the first line (the COPY header the manifest
 * also records) and the final `\.` terminator line, and hashes the whole member on the way so it
 * can be compared with the manifest (nothing read from storage is trusted).
 */
class MemberRows extends Transform {
  readonly hash = createHash('sha256');
  private headerDone = false;
  private tail = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    let buf = Buffer.concat([this.tail, chunk]);
    if (!this.headerDone) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        this.tail = buf;
        return done();
      }
      this.headerDone = true;
      buf = buf.subarray(nl + 1);
    }
    // Hold back the last 3 bytes: they may be the terminator.
    const keep = Math.min(3, buf.length);
    this.tail = Buffer.from(buf.subarray(buf.length - keep));
    if (buf.length > keep) this.push(buf.subarray(0, buf.length - keep));
    done();
  }

  override _flush(done: (err?: Error | null) => void): void {
    if (!this.headerDone || this.tail.toString('latin1') !== '\\.\n') return done(new AppError('corrupt', 'table data member does not end with the COPY terminator'));
    done();
  }
}

async function loadMember(client: pg.PoolClient, source: ArchiveSource, id: string, e: ManifestEntry, relation: string, columns: string[]): Promise<void> {
  // Through the archive source: an encrypted backup (<id>.sql.gz.age) is decrypted on the way.
  const compressed = await source.openArchive({ start: e.offset, end: e.offset + e.length - 1 });
  const rows = new MemberRows();
  const copy = client.query(copyFrom(`COPY ${relation} (${columns.map(q).join(', ')}) FROM STDIN`));
  try {
    await pipeline(compressed, zlib.createGunzip(), rows, copy);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const msg = String((err as Error).message ?? err);
    if (/incorrect header|unexpected end|invalid|zlib/i.test(msg)) throw new AppError('corrupt', `backup ${id}: member ${e.index} (${e.name}) does not decompress`);
    throw err;
  }
  if (rows.hash.digest('hex') !== e.sha256) throw new AppError('corrupt', `backup ${id}: the data of ${e.name} (member ${e.index}) does not match its checksum`);
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
  const load = async () => (manifest ??= await readManifest(storage, id));
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
          await loadMember(client, archive, id, e, `pg_temp.${q(t)}`, mt.columns);
        }
      }
      return new Date(m.startedAt);
    },
    relation: (t) => `pg_temp.${q(t)}`,
  };
}
