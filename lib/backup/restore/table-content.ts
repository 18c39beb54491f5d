import { createHash } from 'node:crypto';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { quoteIdent as q } from '../catalog/quote-ident';
import type { Manifest, ManifestTable } from '../manifest';
import { contentShaOf, copyStatement } from '../manifest';

/** What a table holds now, in the manifest's fingerprint terms. */
export interface TableContent {
  rows: number;
  contentSha256: string;
}

/**
 * Re-reads a restored table and fingerprints it exactly as the backup did (ManifestTable.contentSha256):
 * `COPY ... TO STDOUT` in physical order (synchronize_seqscans off, so the scan starts at block 0),
 * split into chunks by the manifest's per-chunk row counts, each chunk hashed as
 * `copy line + rows + \.` and the chunk hashes hashed in order. A freshly loaded table's physical
 * order is its load order, which is the archive's order, so an exact restore reproduces the hash.
 * `at` reads another location (the --into-schema copy); the copy lines hashed stay the manifest's.
 * Streams: memory stays flat whatever the table size. The caller's session must use the backup's
 * output settings (copyOutputSettingsSql() of ../session-settings, TimeZone UTC included).
 */
export async function readTableContent(client: pg.ClientBase, m: Manifest, t: ManifestTable, at?: { schema: string; name: string }): Promise<TableContent> {
  const chunks = t.entries.map((i) => m.entries[i]);
  if (chunks.length === 0) return { rows: 0, contentSha256: contentShaOf([]) };
  await client.query('SET LOCAL synchronize_seqscans = off');
  const rel = `${q(at?.schema ?? t.schema)}.${q(at?.name ?? t.name)}`;
  const cols = t.columns.length ? ` (${t.columns.map(q).join(', ')})` : '';
  const stream = client.query(copyTo(`COPY ${rel}${cols} TO STDOUT`));
  const shas: string[] = [];
  let ci = 0;
  // The copy lines hashed are the table's own (built from its validated name), as the backup wrote them.
  const head = `${copyStatement(t.schema, t.name, t.columns)}\n`;
  let h = createHash('sha256').update(head);
  let left = chunks[0].rows ?? 0;
  let rows = 0;
  let extra = 0;
  const closeChunk = () => {
    h.update('\\.\n');
    shas.push(h.digest('hex'));
    ci++;
    if (ci < chunks.length) {
      h = createHash('sha256').update(head);
      left = chunks[ci].rows ?? 0;
    }
  };
  // Close leading empty chunks.
  while (ci < chunks.length && left === 0) closeChunk();
  for await (const buf of stream as AsyncIterable<Buffer>) {
    let pos = 0;
    while (pos < buf.length) {
      if (ci >= chunks.length) {
        // More rows than the backup had: count them, the hash cannot match anyway.
        let i = buf.indexOf(10, pos);
        while (i !== -1) {
          extra++;
          i = buf.indexOf(10, i + 1);
        }
        break;
      }
      let i = buf.indexOf(10, pos);
      let end = -1;
      while (i !== -1) {
        rows++;
        left--;
        if (left === 0) {
          end = i + 1;
          break;
        }
        i = buf.indexOf(10, i + 1);
      }
      if (end === -1) {
        h.update(buf.subarray(pos));
        break;
      }
      h.update(buf.subarray(pos, end));
      pos = end;
      closeChunk();
      while (ci < chunks.length && left === 0) closeChunk();
    }
  }
  // Fewer rows than the backup had: finish the open chunks so a hash exists (it will not match).
  while (ci < chunks.length) closeChunk();
  return { rows: rows + extra, contentSha256: extra ? `extra-rows-${extra}` : contentShaOf(shas) };
}
