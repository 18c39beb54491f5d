import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors';
import type { Manifest, ManifestSignature } from './manifest';

/**
 * Authenticated backups (BACKUP_SIGNING_KEY). The manifest records the SHA-256 of the archive and of
 * every member, so an HMAC-SHA256 over the manifest authenticates the whole backup: whoever can write
 * to the storage but does not hold the key cannot change a byte of it (and recompute the checksums)
 * without the signature failing. The signature lives IN the manifest (`signature`), computed over
 * the manifest's canonical bytes without that field: JSON with object keys sorted, no whitespace.
 */

export const SIGNATURE_ALGORITHM = 'HMAC-SHA256';

/** What verify, restore, show and the API say about a backup when no key is configured. */
export const UNSIGNED_WARNING = 'unsigned: anyone who can write to the storage can change this backup';

/** Shortest accepted key: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
const MIN_KEY_LENGTH = 32;

/** The signing key from BACKUP_SIGNING_KEY (null when unset or empty); too short is a config error. */
export function signingKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer | null {
  const v = env.BACKUP_SIGNING_KEY ?? '';
  if (v === '') return null;
  if (v.length < MIN_KEY_LENGTH) throw new AppError('config', `BACKUP_SIGNING_KEY must be at least ${MIN_KEY_LENGTH} characters (generate one with: openssl rand -hex 32)`);
  return Buffer.from(v, 'utf8');
}

/** JSON with every object's keys sorted and no whitespace: the bytes the signature covers. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The manifest's signed bytes: canonical JSON of everything but `signature`. */
export function canonicalManifestBytes(m: Manifest): Buffer {
  const { signature: _s, ...rest } = m;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** A short, non-secret name of a key (so "signed with another key" can be told apart). */
export function signingKeyId(key: Buffer): string {
  return keyId(key);
}

function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('tickethub-backup signing key id').digest('hex').slice(0, 16);
}

function mac(m: Manifest, key: Buffer): Buffer {
  return createHmac('sha256', key).update(canonicalManifestBytes(m)).digest();
}

/** Manifest fields that are not on a v3 manifest's first line (its summary), plus the signature. */
const NOT_IN_SUMMARY = new Set(['tables', 'entries', 'schemaFingerprint', 'largeObjects', 'signature']);

/**
 * MAC of the manifest's summary alone (the fields `list` reads from the first line), so a listing
 * can authenticate what it shows without reading a manifest that can be larger than the archive.
 * Over the JSON of the summary as stored (a parsed first line), canonical, without the signature.
 */
function summaryMac(summary: Record<string, unknown>, key: Buffer): Buffer {
  const fields = Object.fromEntries(Object.entries(summary).filter(([k]) => !NOT_IN_SUMMARY.has(k)));
  return createHmac('sha256', key).update('tickethub-backup manifest summary\n').update(canonicalJson(JSON.parse(JSON.stringify(fields)))).digest();
}

/** The manifest with its signature (unchanged without a key). */
export function signManifest(m: Manifest, key: Buffer | null): Manifest {
  if (!key) return m;
  const signature: ManifestSignature = {
    algorithm: SIGNATURE_ALGORITHM,
    keyId: keyId(key),
    value: mac(m, key).toString('hex'),
    summary: summaryMac(m as unknown as Record<string, unknown>, key).toString('hex'),
  };
  return { ...m, signature };
}

/**
 * 'valid': signed with the configured key and unchanged. 'missing' / 'invalid': a key is configured
 * and the manifest is unsigned / its signature does not match — refuse the backup. 'unchecked': no
 * key configured — usable, with UNSIGNED_WARNING.
 */
export type SignatureState = 'valid' | 'missing' | 'invalid' | 'unchecked';

export interface SignatureStatus {
  state: SignatureState;
  /** False when the backup must be refused. */
  ok: boolean;
  /** One line for people. */
  message: string;
}

/** Checks a manifest's signature against `key` (BACKUP_SIGNING_KEY by default), in constant time. */
export function checkManifestSignature(m: Manifest, key: Buffer | null = signingKeyFromEnv()): SignatureStatus {
  const sig = m.signature;
  if (!key) return { state: 'unchecked', ok: true, message: sig ? `${UNSIGNED_WARNING} (it carries a signature, but BACKUP_SIGNING_KEY is not set here to check it)` : UNSIGNED_WARNING };
  if (!sig || typeof sig !== 'object' || typeof sig.value !== 'string') {
    return { state: 'missing', ok: false, message: `backup ${m.id} is not signed, but BACKUP_SIGNING_KEY is set: refusing it (it may have been written or replaced by someone who can write to the storage)` };
  }
  let expected: Buffer;
  try {
    expected = mac(m, key);
  } catch (err) {
    // canonicalJson recurses: a manifest nested thousands deep (JSON.parse takes it) exhausts the stack.
    if (!(err instanceof RangeError)) throw err;
    return { state: 'invalid', ok: false, message: `backup ${m.id}: the manifest is nested too deeply to be a backup manifest (tampered?): refusing it` };
  }
  const got = /^[0-9a-f]{64}$/.test(sig.value) ? Buffer.from(sig.value, 'hex') : Buffer.alloc(expected.length);
  const match = sig.algorithm === SIGNATURE_ALGORITHM && timingSafeEqual(got, expected) && /^[0-9a-f]{64}$/.test(sig.value);
  if (!match) {
    const other = sig.keyId && sig.keyId !== keyId(key) ? ' (it was signed with another key)' : ' (the backup was changed after it was written)';
    return { state: 'invalid', ok: false, message: `backup ${m.id}: the manifest signature does not match BACKUP_SIGNING_KEY${other}: refusing it` };
  }
  return { state: 'valid', ok: true, message: `signed (${SIGNATURE_ALGORITHM}, key ${sig.keyId}): manifest and every member's checksum as written` };
}

/**
 * What the HTTP API says about signing with every backup listing: whether a key is configured, and
 * otherwise the plain warning (a misconfigured key is reported as such, never as "signed").
 */
export function signingNotice(env: NodeJS.ProcessEnv = process.env): { configured: boolean; warning: string | null } {
  try {
    return signingKeyFromEnv(env) ? { configured: true, warning: null } : { configured: false, warning: UNSIGNED_WARNING };
  } catch (err) {
    return { configured: false, warning: `${(err as Error).message}; until then: ${UNSIGNED_WARNING}` };
  }
}

/**
 * The signature check a listing can make from a v3 manifest's first line alone (`summary`: that
 * line parsed as stored). 'valid' only when the summary MAC of the configured key matches; null
 * when the manifest is signed by this key but carries no summary MAC (written before it existed):
 * only the whole manifest can tell then (checkManifestSignature).
 */
export function checkSummarySignature(summary: Record<string, unknown>, id: string, key: Buffer): SignatureStatus | null {
  const sig = summary.signature as Partial<ManifestSignature> | undefined;
  if (!sig || typeof sig !== 'object' || typeof sig.value !== 'string') {
    return { state: 'missing', ok: false, message: `backup ${id} is not signed, but BACKUP_SIGNING_KEY is set: refusing it (it may have been written or replaced by someone who can write to the storage)` };
  }
  if (sig.keyId !== keyId(key)) return { state: 'invalid', ok: false, message: `backup ${id}: the manifest signature does not match BACKUP_SIGNING_KEY (it was signed with another key): refusing it` };
  if (sig.summary === undefined) return null;
  let expected: Buffer;
  try {
    expected = summaryMac(summary, key);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { state: 'invalid', ok: false, message: `backup ${id}: the manifest is nested too deeply to be a backup manifest (tampered?): refusing it` };
  }
  const wellFormed = typeof sig.summary === 'string' && /^[0-9a-f]{64}$/.test(sig.summary);
  const got = wellFormed ? Buffer.from(sig.summary as string, 'hex') : Buffer.alloc(expected.length);
  const match = timingSafeEqual(got, expected) && wellFormed && sig.algorithm === SIGNATURE_ALGORITHM && summary.id === id;
  if (!match) return { state: 'invalid', ok: false, message: `backup ${id}: the manifest signature does not match BACKUP_SIGNING_KEY (the backup was changed after it was written): refusing it` };
  return { state: 'valid', ok: true, message: `signed (${SIGNATURE_ALGORITHM}, key ${sig.keyId}): manifest summary as written` };
}
