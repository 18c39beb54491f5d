import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AppError, oneLine, toAppError } from '../errors';
import type { StorageBackend } from '../storage/storage-backend';
import type { ArchiveSource } from './archive-reader';
import { ByteReader, readMember, storageArchiveSource } from './archive-reader';
import type { ArchiveProblem, Manifest, ManifestEntry } from './manifest';
import { describeEntry, entryProblem, manifestProblems, memberRawBytes, parseManifest, SQL_MEMBER_MAX_BYTES } from './manifest';
import { checkManifestSignature } from './manifest-signature';
import type { SignatureState } from './manifest-signature';
import { sqlMemberProblem, tableOfDataEntry, TableDataScanner } from './member-check';
import { LargeObjectArchiveCheck } from './catalog/kinds/large-objects';

export type VerifyProblem = ArchiveProblem;

/** Outcome of checking one backup without any database. */
export interface VerifyResult {
  /** True when there is no problem at all. */
  ok: boolean;
  /**
   * 'full': every member decompressed and checked against the manifest (unless an encrypted
   * backup could not be decrypted: see `encryption.lookedInside`). The backup engine's own check
   * after writing is the cheaper 'stored-bytes' (stored-check.ts).
   */
  scope: 'full';
  id: string;
  /** ISO 8601 time the check finished. */
  checkedAt: string;
  /** Whether the whole archive's size and SHA-256 equal the manifest's. */
  archiveSha256Ok: boolean;
  /** Members checked (the manifest's entry count). */
  entries: number;
  /** Tables and rows the manifest describes (0 when the manifest could not be read). */
  tables: number;
  rows: number;
  sizeBytes: number;
  durationMs: number;
  /** Everything wrong, each tied to the member/object it hits where there is one. */
  problems: VerifyProblem[];
  /**
   * Encrypted backups: whether the stored ciphertext has the manifest's size and SHA-256, and
   * whether the members were checked too (only with an identity; without one `ok` covers the
   * ciphertext and the manifest alone).
   */
  encryption?: { ciphertextOk: boolean; lookedInside: boolean };
  /** The manifest signature (manifest-signature.ts): 'missing'/'invalid' are also problems. */
  signature: SignatureState;
  /** Things to say that do not fail the check (e.g. UNSIGNED_WARNING without a key). */
  warnings: string[];
}

export interface VerifyOptions {
  signal?: AbortSignal;
  /** Called as compressed bytes are read (for progress bars). */
  onProgress?: (p: { bytesRead: number; totalBytes: number; entriesDone: number; entries: number }) => void;
}

/**
 * Checks a stored backup end to end without any database: the manifest exists and parses, its
 * format and version are known, its entries tile the archive, the archive's size and SHA-256
 * match, and every member decompresses on its own with the SHA-256 (and, for table data, the row
 * count and COPY line) the manifest records. Reads the archive once as a stream (flat memory).
 *
 * Never throws for corruption — every finding is a `problems` item and `ok` is false. Throws
 * AppError 'not_found' when the backup has no manifest (it does not exist), and storage errors
 * other than a missing archive as they are (the check could not run).
 */
export async function verifyBackup(storage: StorageBackend, id: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  return verifySource(storageArchiveSource(storage, id), opts);
}

/** verifyBackup for any ArchiveSource (a storage backend or a downloaded archive file). */
export async function verifySource(source: ArchiveSource, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = Date.now();
  // not_found propagates (the backup does not exist); a manifest too large to read is a problem of this backup.
  const read = await source.manifestText().then(
    (text) => ({ text, error: null }),
    (err: unknown) => {
      if ((err as { code?: string }).code !== 'corrupt') throw err;
      return { text: '', error: oneLine((err as Error).message) };
    },
  );
  const text = read.text;
  const result: VerifyResult = {
    ok: false,
    scope: 'full',
    id: source.id,
    checkedAt: '',
    archiveSha256Ok: false,
    entries: 0,
    tables: 0,
    rows: 0,
    sizeBytes: 0,
    durationMs: 0,
    problems: [],
    signature: 'unchecked',
    warnings: [],
  };
  const finish = () => {
    result.ok = result.problems.length === 0;
    result.checkedAt = new Date().toISOString();
    result.durationMs = Date.now() - started;
    return result;
  };
  if (read.error) {
    result.problems.push({ kind: 'MANIFEST', problem: read.error });
    return finish();
  }
  let m: Manifest;
  try {
    m = parseManifest(text, source.label);
  } catch (err) {
    result.problems.push({ kind: 'MANIFEST', problem: oneLine((err as Error).message) });
    return finish();
  }
  const sig = checkManifestSignature(m);
  result.signature = sig.state;
  if (!sig.ok) result.problems.push({ kind: 'SIGNATURE', problem: sig.message });
  else if (sig.state === 'unchecked') result.warnings.push(sig.message);
  result.id = m.id ?? source.id;
  result.entries = m.entries.length;
  result.tables = m.tables.length;
  result.rows = m.totals?.rows ?? m.tables.reduce((s, t) => s + t.rows, 0);
  result.sizeBytes = m.archive.sizeBytes;
  if (m.id !== source.id) result.problems.push({ kind: 'MANIFEST', problem: `manifest is for backup ${m.id}, not ${source.id}` });
  result.problems.push(...manifestProblems(m));
  // A wrong identity is the caller's problem, not the backup's: one line, and nothing to record
  // (before, every member was listed as "truncated" and the failed verdict recorded on a good backup).
  if (!result.problems.length) await source.checkIdentity?.(false);
  if (await checkCiphertext(source, result)) return finish();

  let size: number;
  try {
    size = await source.archiveSize();
  } catch (err) {
    if ((err as AppError).code === 'not_found') {
      result.problems.push({ kind: 'ARCHIVE', problem: oneLine((err as Error).message) });
      return finish();
    }
    throw err;
  }
  if (size !== m.archive.sizeBytes) {
    result.problems.push({ kind: 'ARCHIVE', problem: `archive has ${size} bytes, manifest says ${m.archive.sizeBytes}${size < m.archive.sizeBytes ? ' (truncated)' : ''}` });
  }

  const stream = await source.openArchive();
  const { sha256, problems } = await checkMembers(stream, m, opts, size);
  result.problems.push(...problems);
  result.archiveSha256Ok = sha256 === m.archive.sha256 && size === m.archive.sizeBytes;
  if (sha256 !== m.archive.sha256) result.problems.push({ kind: 'ARCHIVE', problem: `archive SHA-256 ${sha256} does not match the manifest's ${m.archive.sha256}` });
  return finish();
}

/** What one member's decompressed bytes turned out to be. */
interface MemberFacts {
  sha256: string;
  rawLength: number;
  /** table-data: rows between its COPY line and terminator (when its shape could be read). */
  rows?: number;
  /** Why the member is not what its kind allows (member-check.ts), if it is not. */
  shape?: string;
}

/** SQL members whose text is checked against their kind are read whole up to this size. */
const SQL_CHECK_LIMIT = SQL_MEMBER_MAX_BYTES;

async function memberFacts(out: Readable, e: ManifestEntry, m: Manifest, lo?: LargeObjectArchiveCheck): Promise<MemberFacts> {
  const h = createHash('sha256');
  let rawLength = 0;
  const table = e.section === 'table-data' ? tableOfDataEntry(m, e) : undefined;
  let scanner = table ? new TableDataScanner(table, describeEntry(e)) : undefined;
  const sqlParts: Buffer[] | undefined = e.section !== 'table-data' ? [] : undefined;
  let shape: string | undefined;
  for await (const c of out as AsyncIterable<Buffer>) {
    h.update(c);
    rawLength += c.length;
    if (sqlParts && rawLength <= SQL_CHECK_LIMIT) sqlParts.push(c);
    try {
      scanner?.push(c);
    } catch (err) {
      shape = problemText(err);
      scanner = undefined; // keep hashing: the checksum finding is reported as well
    }
  }
  try {
    scanner?.end();
  } catch (err) {
    shape = problemText(err);
    scanner = undefined;
  }
  if (sqlParts && lo && e.kind === 'LARGE OBJECTS') {
    if (rawLength > SQL_CHECK_LIMIT) shape = `a large-object member of ${rawLength} bytes is larger than the backup writes`;
    else lo.feed(Buffer.concat(sqlParts).toString('utf8'));
  } else if (sqlParts) shape = rawLength > SQL_CHECK_LIMIT ? `an SQL member of ${rawLength} bytes is larger than a ${e.section} member can be` : (sqlMemberProblem(e, Buffer.concat(sqlParts).toString('utf8')) ?? undefined);
  return { sha256: h.digest('hex'), rawLength, rows: scanner?.rows, shape };
}

/** The problem of a member-check error, without the member's name (the problem list names it). */
function problemText(err: unknown): string {
  return oneLine((err as Error).message).replace(/^[^:]*\(#\d+\): /, '');
}

/** Compares one member's facts with its manifest entry. */
function memberProblems(e: ManifestEntry, f: MemberFacts): string[] {
  const out: string[] = [];
  if (f.sha256 !== e.sha256) out.push(`content SHA-256 ${f.sha256.slice(0, 16)}… does not match the manifest's ${String(e.sha256).slice(0, 16)}…`);
  if (typeof e.rawLength === 'number' && f.rawLength !== e.rawLength) out.push(`decompresses to ${f.rawLength} bytes, manifest says ${e.rawLength}`);
  if (f.shape) out.push(f.shape);
  if (e.section === 'table-data' && f.rows !== undefined && f.rows !== e.rows) out.push(`holds ${f.rows} rows, manifest says ${e.rows}`);
  return out;
}

/**
 * Reads the archive once, member by member in manifest order, collecting per-member problems and
 * the SHA-256 of all bytes read. Bytes beyond the last member are reported.
 */
async function checkMembers(stream: Readable, m: Manifest, opts: VerifyOptions, totalBytes: number): Promise<{ sha256: string; problems: VerifyProblem[] }> {
  const reader = new ByteReader(stream);
  const problems: VerifyProblem[] = [];
  // Walk by offset so a manifest with broken ordering still checks what it can.
  const entries = [...m.entries].sort((a, b) => a.offset - b.offset);
  // Large objects' content, re-hashed from their members against the manifest's records.
  const largeObjects = m.largeObjects ? new LargeObjectArchiveCheck() : undefined;
  let done = 0;
  try {
    let skipUntil = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (i < skipUntil) continue; // a part of the packed member checked with its first part
      if (opts.signal?.aborted) throw new AppError('aborted', 'verification interrupted');
      if (!Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.length <= 0) continue;
      if (e.offset < reader.position) continue; // overlaps the previous member: already reported
      if (e.offset > reader.position) {
        // A gap: skip it (hashing) so later members are still checked.
        let gap = e.offset - reader.position;
        while (gap > 0) {
          const b = await reader.next(gap);
          if (!b) break;
          gap -= b.length;
        }
      }
      try {
        if (e.part !== undefined) {
          // A packed member (v3): its entries follow it in `entries`; each one's slice is checked.
          const group = [e];
          while (group.length < entries.length - i && entries[i + group.length].offset === e.offset && entries[i + group.length].part !== undefined) group.push(entries[i + group.length]);
          skipUntil = i + group.length;
          const bytes = await readMember(reader, e.length, { bytes: memberRawBytes(group) }, collect);
          for (const pe of group) {
            const start = pe.part ?? 0;
            const slice = bytes.subarray(Math.min(start, bytes.length), Math.min(start + pe.rawLength, bytes.length));
            for (const p of memberProblems(pe, await memberFacts(Readable.from([slice]), pe, m))) problems.push(entryProblem(pe, p));
          }
          const last = group[group.length - 1];
          const end = (last.part ?? 0) + last.rawLength;
          if (end !== bytes.length) problems.push(entryProblem(last, `its member decompresses to ${bytes.length} bytes, its parts cover ${end}`));
          done += group.length - 1;
        } else {
          // A restore trusts a member by gzSha256 alone when the manifest records one: verify checks it too.
          const gz = typeof e.gzSha256 === 'string' ? createHash('sha256') : undefined;
          const facts = await readMember(reader, e.length, { bytes: memberRawBytes([e]) }, (out) => memberFacts(out, e, m, largeObjects), gz);
          for (const p of memberProblems(e, facts)) problems.push(entryProblem(e, p));
          if (gz && gz.digest('hex') !== e.gzSha256) problems.push(entryProblem(e, 'compressed SHA-256 does not match the manifest'));
        }
      } catch (err) {
        const ae = toAppError(err);
        if (ae.code === 'aborted') throw ae;
        // A packed member that cannot be read loses every object in it: each one is named.
        for (const pe of e.part !== undefined ? entries.slice(i, skipUntil) : [e]) problems.push(entryProblem(pe, oneLine(ae.message)));
      }
      done++;
      opts.onProgress?.({ bytesRead: reader.position, totalBytes, entriesDone: done, entries: entries.length });
    }
    const extra = await reader.drain();
    if (extra > 0) problems.push({ kind: 'ARCHIVE', problem: `${extra} unexpected bytes after the last member` });
    for (const problem of largeObjects?.problems(m.largeObjects ?? []) ?? []) problems.push({ kind: 'LARGE OBJECT', problem });
  } catch (err) {
    // A storage read failing midway: the check is incomplete, which is itself a finding.
    const ae = toAppError(err);
    if (ae.code === 'aborted') throw ae;
    problems.push({ kind: 'ARCHIVE', problem: `reading the archive failed at byte ${reader.position}: ${oneLine(ae.message)}` });
    await reader.close().catch(() => {});
    stream.destroy();
    return { sha256: '', problems };
  }
  return { sha256: reader.digest(), problems };
}

async function collect(out: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of out as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** One-line summary of a result for logs and the CLI. */
export function describeVerifyResult(r: VerifyResult): string {
  if (r.ok) return `backup ${r.id} verified: ${r.entries} members, ${r.tables} tables, ${r.rows} rows, archive SHA-256 ok`;
  return `backup ${r.id} FAILED verification: ${r.problems.length} problem(s); first: ${formatProblem(r.problems[0])}`;
}

/** `TABLE DATA public.tickets (#41): content SHA-256 … does not match` */
export function formatProblem(p: VerifyProblem): string {
  const obj = p.name !== undefined ? `${p.kind ?? ''} ${p.schema ? `${p.schema}.` : ''}${p.name}`.trim() : (p.kind ?? '');
  const at = p.index !== undefined ? ` (#${p.index})` : '';
  return `${obj}${at}: ${p.problem}`;
}

/**
 * Encrypted backups: checks the stored ciphertext against the manifest (no key needed) and records
 * the outcome. Returns true when the members cannot be looked at (no identity, or no ciphertext).
 */
async function checkCiphertext(source: ArchiveSource, result: VerifyResult): Promise<boolean> {
  let ct;
  try {
    ct = await source.checkCiphertext?.();
  } catch (err) {
    if ((err as AppError).code !== 'not_found') throw err;
    result.encryption = { ciphertextOk: false, lookedInside: false };
    result.problems.push({ kind: 'ARCHIVE', problem: oneLine((err as Error).message) });
    return true;
  }
  if (!ct) return false;
  result.encryption = { ciphertextOk: ct.problems.length === 0, lookedInside: ct.canDecrypt };
  result.problems.push(...ct.problems.map((problem) => ({ kind: 'ARCHIVE', problem })));
  return !ct.canDecrypt;
}
