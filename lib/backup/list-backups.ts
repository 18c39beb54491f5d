import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import { MAX_MANIFEST_BYTES, readCappedText, tooLarge } from '../storage/read-capped';
import { readFailedMarker } from './failed-marker';
import { BACKUP_ID_RE, archiveKey, encryptedArchiveKey, manifestKey, parseManifest, parseManifestSummary, storedSizeBytes } from './manifest';
import type { Manifest, ManifestSummary } from './manifest';
import { checkManifestSignature, checkSummarySignature, signingKeyFromEnv } from './manifest-signature';
import type { SignatureStatus } from './manifest-signature';

/** One backup as storage knows it. */
export interface StoredBackup {
  id: string;
  /**
   * 'succeeded': manifest present and readable. 'incomplete': an archive without a manifest (a run
   * in progress or one that died before finishing: never a usable backup). 'unreadable': a
   * manifest that does not parse, or a manifest whose archive is missing. 'failed': a run that
   * failed while the database was unreachable (`<id>.failed.json`, see failed-marker.ts).
   * 'untrusted': BACKUP_SIGNING_KEY is set and the manifest is unsigned, signed with another key or
   * changed since it was signed (`error` says which): verify, restore and drills refuse it, and
   * what it claims (description, sizes, dates) may be forged. Never a good backup.
   */
  status: 'succeeded' | 'incomplete' | 'unreadable' | 'failed' | 'untrusted';
  startedAt: string | null;
  finishedAt: string | null;
  trigger: string | null;
  description: string;
  tables: number | null;
  rows: number | null;
  /** Bytes of the archive file in storage: for an encrypted backup the ciphertext (storedSizeBytes). */
  sizeBytes: number | null;
  /** Whether the archive is stored age-encrypted (known from the manifest or the .age file name). */
  encrypted?: boolean;
  sha256: string | null;
  /**
   * Only while BACKUP_SIGNING_KEY is set: the manifest's signature as the listing checked it from the
   * summary line ('signed': made with this key and the summary unchanged; the rest of the manifest
   * is checked by verify, restore and drills).
   */
  signature?: 'signed' | 'unsigned' | 'bad';
  /** Why it is unreadable or untrusted, or why the run failed. */
  error?: string;
  /** The manifest's summary (v3: its first line only; older versions: the whole manifest). readManifest has the rest. */
  manifest?: ManifestSummary;
}

async function readText(storage: StorageBackend, key: string): Promise<string> {
  return readCappedText(await storage.get(key), MAX_MANIFEST_BYTES, `${key} in ${storage.location}`);
}

/** Bytes a v3 manifest's summary line is looked for in (a summary is a few hundred bytes, more with many warnings). */
const SUMMARY_READ_BYTES = 256 * 1024;

/**
 * What `list` reads of a manifest: a v3 manifest's first line (its summary: a 5,000-table backup's
 * whole manifest is several times its archive), or the whole manifest of older versions.
 */
async function readSummary(storage: StorageBackend, id: string): Promise<{ summary: ManifestSummary; line?: Record<string, unknown>; full?: Manifest }> {
  const s = await storage.get(manifestKey(id), { start: 0, end: SUMMARY_READ_BYTES - 1 });
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    parts.push(c);
    n += c.length;
    if (c.includes(10)) break;
  }
  s.destroy();
  const head = Buffer.concat(parts).toString('utf8');
  const summary = parseManifestSummary(head, `backup ${id}`);
  // The first line as stored (parseManifestSummary parsed it): what its signature covers.
  if (summary) return { summary, line: JSON.parse(`${head.slice(0, head.indexOf('\n') - 1)}}`) as Record<string, unknown> };
  // Not a v3 first line (an older format, or a manifest smaller than the read): the whole of it.
  const full = parseManifest(n < SUMMARY_READ_BYTES && !head.includes('\n') ? head : await readText(storage, manifestKey(id)), `backup ${id}`);
  return { summary: full, full };
}

/**
 * The listing's signature check with the configured key: from the summary line's own MAC when it
 * has one (no more is read), else from the whole manifest (read for that; older signed backups).
 */
async function listingSignature(storage: StorageBackend, id: string, read: { line?: Record<string, unknown>; full?: Manifest }, key: Buffer): Promise<SignatureStatus> {
  const fromLine = read.line ? checkSummarySignature(read.line, id, key) : null;
  if (fromLine) return fromLine;
  const full = read.full ?? (await readManifest(storage, id));
  if (full.id !== id) return { state: 'invalid', ok: false, message: `backup ${id}: the manifest is for backup ${String(full.id)}, not ${id}: refusing it` };
  return checkManifestSignature(full, key);
}

const LISTED_SIGNATURE = { valid: 'signed', missing: 'unsigned', invalid: 'bad', unchecked: 'unsigned' } as const;

/** BACKUP_SIGNING_KEY, or null when unset or unusable (the commands that sign or check report that). */
function listingKey(): Buffer | null {
  try {
    return signingKeyFromEnv();
  } catch {
    return null;
  }
}

/** A backup's manifest from storage; AppError 'not_found' when there is none (no such backup). */
export async function readManifest(storage: StorageBackend, id: string): Promise<Manifest> {
  if (!BACKUP_ID_RE.test(id)) throw new AppError('usage', `not a backup id: ${JSON.stringify(id)} (expected e.g. 20261125T020000Z-ab12cd34)`);
  let text: string;
  try {
    text = await readText(storage, manifestKey(id));
  } catch (err) {
    if ((err as AppError).code === 'not_found') throw new AppError('not_found', `no backup ${id} in ${storage.location}`, { cause: err });
    throw toAppError(err);
  }
  const m = parseManifest(text, `backup ${id}`);
  // Another backup's manifest stored under this id is not this backup (show, reindex, drills, exports).
  if (m.id !== id) throw new AppError('corrupt', `backup ${id}: the manifest is for backup ${String(m.id)}, not ${id} (another backup's files put in its place?)`);
  return m;
}

/**
 * Every backup in storage, newest first, from the manifests (the source of truth). Archives
 * without a manifest are listed as 'incomplete' so an operator sees them, never as succeeded.
 */
export async function listBackups(storage: StorageBackend): Promise<StoredBackup[]> {
  const objects = await storage.list();
  const ids = new Map<string, { manifest: boolean; manifestSize?: number; archive: boolean; failed?: boolean; size?: number; modifiedAt?: Date; encrypted?: boolean }>();
  for (const o of objects) {
    const m = /^(.+)\.(manifest\.json|sql\.gz(?:\.age)?|failed\.json)$/.exec(o.key);
    if (!m || !BACKUP_ID_RE.test(m[1])) continue;
    const e = ids.get(m[1]) ?? { manifest: false, archive: false };
    if (m[2] === 'manifest.json') {
      e.manifest = true;
      e.manifestSize = o.size;
    }
    else if (m[2] === 'failed.json') e.failed = true;
    else {
      e.archive = true;
      e.size = o.size;
      e.encrypted = m[2].endsWith('.age');
      e.modifiedAt = o.modifiedAt;
    }
    ids.set(m[1], e);
  }
  const key = listingKey();
  const out: StoredBackup[] = [];
  for (const [id, e] of [...ids].sort((a, b) => (a[0] < b[0] ? 1 : -1))) {
    if (!e.manifest && e.failed) {
      const f = await readFailedMarker(storage, id).catch(() => null);
      if (f) {
        out.push({ id, status: 'failed', startedAt: f.startedAt, finishedAt: f.finishedAt, trigger: f.trigger, description: '', tables: null, rows: null, sizeBytes: null, sha256: null, error: f.error });
        continue;
      }
      if (!e.archive) continue; // unreadable marker, nothing else: not a backup
    }
    if (!e.manifest) {
      out.push({ id, status: 'incomplete', startedAt: null, finishedAt: null, trigger: null, description: '', tables: null, rows: null, sizeBytes: e.size ?? null, encrypted: Boolean(e.encrypted), sha256: null });
      continue;
    }
    // The listing's size of a manifest over the cap: unreadable without reading a byte of it
    // (its first line alone could look fine; verify, restore and drills refuse to read it).
    if ((e.manifestSize ?? 0) > MAX_MANIFEST_BYTES) {
      out.push({ id, status: 'unreadable', startedAt: null, finishedAt: null, trigger: null, description: '', tables: null, rows: null, sizeBytes: e.size ?? null, encrypted: Boolean(e.encrypted), sha256: null, error: tooLarge(`${manifestKey(id)} in ${storage.location}`, MAX_MANIFEST_BYTES) });
      continue;
    }
    try {
      const read = await readSummary(storage, id);
      const m = read.summary;
      const sig = key ? await listingSignature(storage, id, read, key) : null;
      if (sig && !sig.ok) {
        out.push({ id, status: 'untrusted', startedAt: m.startedAt, finishedAt: m.finishedAt, trigger: m.trigger, description: m.description ?? '', tables: m.totals.tables, rows: m.totals.rows, sizeBytes: e.size ?? null, encrypted: Boolean(e.encrypted), sha256: null, signature: LISTED_SIGNATURE[sig.state], error: sig.message, manifest: m });
        continue;
      }
      const signature = sig ? { signature: LISTED_SIGNATURE[sig.state] } : {};
      if (!e.archive) {
        // Its archive was deleted or lost: nothing to restore, so never 'succeeded' (nor counted by retention).
        out.push({ id, status: 'unreadable', startedAt: m.startedAt, finishedAt: m.finishedAt, trigger: m.trigger, description: m.description ?? '', tables: m.totals.tables, rows: m.totals.rows, sizeBytes: null, encrypted: Boolean(m.encryption), sha256: m.archive.sha256, error: `archive ${m.encryption ? encryptedArchiveKey(id) : archiveKey(id)} is missing`, ...signature, manifest: m });
        continue;
      }
      // The listing already knows the stored archive's size: one that is not the manifest's (bytes
      // lost or added after the backup was checked) cannot restore, so it is never a good backup
      // (retention would otherwise keep it as the newest one and remove an intact, older backup).
      const stored = m.encryption ? encryptedArchiveKey(id) : archiveKey(id);
      if (m.id !== id || Boolean(e.encrypted) !== Boolean(m.encryption) || e.size !== storedSizeBytes(m)) {
        const error =
          m.id !== id
            ? `backup ${id}: the manifest is for backup ${String(m.id)}, not ${id} (another backup's files put in its place?)`
            : Boolean(e.encrypted) !== Boolean(m.encryption)
            ? `archive ${stored} is missing`
            : `archive ${stored} has ${e.size} bytes, the manifest says ${storedSizeBytes(m)}${(e.size ?? 0) < storedSizeBytes(m) ? ' (truncated)' : ''}: it cannot restore`;
        out.push({ id, status: 'unreadable', startedAt: m.startedAt, finishedAt: m.finishedAt, trigger: m.trigger, description: m.description ?? '', tables: m.totals.tables, rows: m.totals.rows, sizeBytes: e.size ?? null, encrypted: Boolean(m.encryption), sha256: m.archive.sha256, error, ...signature, manifest: m });
        continue;
      }
      out.push({
        id,
        status: 'succeeded',
        startedAt: m.startedAt,
        finishedAt: m.finishedAt,
        trigger: m.trigger,
        description: m.description ?? '',
        tables: m.totals.tables,
        rows: m.totals.rows,
        sizeBytes: storedSizeBytes(m),
        encrypted: Boolean(m.encryption),
        sha256: m.archive.sha256,
        ...signature,
        manifest: m,
      });
    } catch (err) {
      if ((err as AppError).code === 'not_found') continue; // deleted between list and read
      out.push({ id, status: 'unreadable', startedAt: null, finishedAt: null, trigger: null, description: '', tables: null, rows: null, sizeBytes: e.size ?? null, encrypted: Boolean(e.encrypted), sha256: null, error: oneLine((err as Error).message) });
    }
  }
  return out;
}
