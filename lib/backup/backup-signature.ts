import type { Manifest, ManifestSignature } from './manifest';
import { UNSIGNED_WARNING, checkManifestSignature, signingKeyFromEnv, signingKeyId, signingNotice } from './manifest-signature';

/**
 * A recorded backup's signature as the HTTP API and the dashboard show it:
 * 'signed': signed with the configured BACKUP_SIGNING_KEY and unchanged.
 * 'unsigned': no key is configured here (nothing can be checked: the plain warning), or a key is
 * configured and the backup carries no signature (refused).
 * 'bad': a key is configured and the signature does not match (another key, or the manifest was
 * changed; also when the last verification of the stored copy found it so) (refused).
 * `refused`: verify, restore and drills refuse this backup while the key is configured.
 */
export interface BackupSignature {
  state: 'signed' | 'unsigned' | 'bad';
  refused: boolean;
  /** One line for people (English; the dashboard shows its own catalog text per state). */
  message: string;
}

/**
 * The signature of a backup from its backup_runs row: `manifest` the full manifest the run recorded
 * (checked with the HMAC), or only its `signature` field (a listing: compared by key id, the MAC of
 * the recorded copy is checked by the detail and by every verification of the stored copy), and
 * `verifiedSignature` the signature state the last verification of the stored copy found.
 */
export function recordedSignature(
  input: { manifest?: Manifest | null; signature?: ManifestSignature | null; verifiedSignature?: string | null },
  env: NodeJS.ProcessEnv = process.env,
): BackupSignature {
  let key: Buffer | null;
  try {
    key = signingKeyFromEnv(env);
  } catch {
    return { state: 'unsigned', refused: false, message: signingNotice(env).warning ?? UNSIGNED_WARNING };
  }
  if (!key) return { state: 'unsigned', refused: false, message: UNSIGNED_WARNING };
  if (input.verifiedSignature === 'invalid') {
    return { state: 'bad', refused: true, message: 'the stored manifest did not match BACKUP_SIGNING_KEY when it was last verified: refusing it' };
  }
  if (input.manifest) {
    const c = checkManifestSignature(input.manifest, key);
    return { state: c.state === 'valid' ? 'signed' : c.state === 'invalid' ? 'bad' : 'unsigned', refused: !c.ok, message: c.message };
  }
  const sig = input.signature;
  if (!sig || typeof sig !== 'object' || typeof sig.value !== 'string') {
    return { state: 'unsigned', refused: true, message: 'not signed, but BACKUP_SIGNING_KEY is set: refusing it' };
  }
  if (sig.keyId !== signingKeyId(key)) return { state: 'bad', refused: true, message: 'signed with another key than BACKUP_SIGNING_KEY: refusing it' };
  return { state: 'signed', refused: false, message: `signed (${sig.algorithm}, key ${sig.keyId})` };
}
