import { readFileSync } from 'node:fs';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { AppError, oneLine } from '../../errors';

/** Splits key text (comma/newline separated, `#` comments and blank lines ignored, as in age's key files). */
function keyLines(text: string): string[] {
  // (CR too: a key file saved on Windows has CRLF line ends, and `.` in the comment pattern stops at a CR.)
  return text
    .split(/\r\n|[\r\n,]/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

/** A private key appears in `value` (in any case): such a value is never echoed into a message. */
const holdsPrivateKey = (value: string) => /AGE-SECRET-KEY-/i.test(value);

/**
 * Key text given inline, or read from the file it names. Inline: it starts with a key, or it has
 * several lines (the whole key file pasted into the variable, comments first: a file name never
 * has a newline). `what` names the setting in errors. An unreadable value that holds a private key
 * (quoted, `NAME=` before it) is refused without a byte of it: these errors reach backup_runs,
 * alerts, the dashboard and logs.
 */
function inlineOrFile(value: string, looksInline: (s: string) => boolean, what: string): { text: string; from: string } {
  const v = value.trim();
  if (looksInline(v) || /[\r\n]/.test(v)) return { text: v, from: what };
  try {
    return { text: readFileSync(v, 'utf8'), from: `${what} file ${v}` };
  } catch (err) {
    if (holdsPrivateKey(v)) {
      throw new AppError('config', `${what} holds an age private key with something around it (quotes? a NAME= or export before it?): give the key alone (AGE-SECRET-KEY-1…) or the path of a key file`);
    }
    throw new AppError('config', `${what}: cannot read ${v} (${(err as NodeJS.ErrnoException).code ?? oneLine((err as Error).message)}); give age keys or the path of a file holding them`);
  }
}

/** An identity file that is itself an age file (`age -p`, a passphrase-protected identity): named as such. */
function refuseEncryptedKeyFile(text: string, from: string): void {
  if (/^\s*(age-encryption\.org\/v1|-----BEGIN AGE ENCRYPTED FILE-----)/.test(text)) {
    throw new AppError('config', `${from} is an encrypted age file (a passphrase-protected identity?): decrypt it first (\`age -d -o key.txt FILE\`, on a machine you trust) and give the decrypted key file`);
  }
}

function privateKeyGiven(from: string): AppError {
  return new AppError('config', `${from} holds a PRIVATE key (AGE-SECRET-KEY-…): give the recipient (age1…, from \`tickethub-backup keygen\`) and keep the identity off this server`);
}

/**
 * The age recipients backups are encrypted to: BACKUP_ENCRYPTION_RECIPIENTS (`age1…` public
 * keys, comma or newline separated, or the path of a file of them). Empty/unset: null (backups are
 * not encrypted). Anything that is not a valid recipient fails with one line naming it — a typo
 * must never silently mean "not encrypted".
 */
export function encryptionRecipients(value = process.env.BACKUP_ENCRYPTION_RECIPIENTS): string[] | null {
  if (value === undefined || value.trim() === '') return null;
  // (Checked before anything else: the value is then never echoed, however it is written.)
  if (holdsPrivateKey(value)) throw privateKeyGiven('BACKUP_ENCRYPTION_RECIPIENTS');
  const { text, from } = inlineOrFile(value, (s) => /^age1/i.test(s), 'BACKUP_ENCRYPTION_RECIPIENTS');
  const keys = [...new Set(keyLines(text))];
  if (!keys.length) throw new AppError('config', `${from} holds no age recipient (age1…)`);
  for (const k of keys) {
    if (holdsPrivateKey(k)) throw privateKeyGiven(from);
    try {
      new Encrypter().addRecipient(k);
      if (!/^age1[0-9a-z]+$/.test(k)) throw new Error('bad characters');
    } catch {
      throw new AppError('config', `${from}: ${JSON.stringify(k.length > 24 ? `${k.slice(0, 24)}…` : k)} is not an age recipient (age1…)`);
    }
  }
  return keys;
}

/**
 * The age identities to decrypt with: `--identity FILE` (flag), else BACKUP_ENCRYPTION_IDENTITY
 * (a file path or the key itself). Null when neither is given. Malformed keys fail with one line.
 */
export function encryptionIdentities(flag?: string, env = process.env.BACKUP_ENCRYPTION_IDENTITY): string[] | null {
  let source: { text: string; from: string };
  if (flag !== undefined) {
    if (holdsPrivateKey(flag)) {
      // Never echoed: and a key on the command line is in every user's process list (ps).
      throw new AppError('usage', '--identity takes the path of a key FILE, not the key itself (a key in the command line is visible to every user of this machine in the process list): save it to a 0600 file, or set BACKUP_ENCRYPTION_IDENTITY');
    }
    try {
      source = { text: readFileSync(flag, 'utf8'), from: `--identity ${flag}` };
    } catch (err) {
      throw new AppError('config', `--identity: cannot read ${flag} (${(err as NodeJS.ErrnoException).code ?? oneLine((err as Error).message)})`);
    }
  } else if (env !== undefined && env.trim() !== '') {
    source = inlineOrFile(env, (s) => /^AGE-SECRET-KEY-/i.test(s), 'BACKUP_ENCRYPTION_IDENTITY');
  } else {
    return null;
  }
  refuseEncryptedKeyFile(source.text, source.from);
  const keys = keyLines(source.text).filter((k) => !/^age1/.test(k));
  if (!keys.length) throw new AppError('config', `${source.from} holds no age identity (AGE-SECRET-KEY-1…)`);
  for (const k of keys) {
    try {
      new Decrypter().addIdentity(k);
    } catch {
      throw new AppError('config', `${source.from}: a line is not an age identity (AGE-SECRET-KEY-1…)`);
    }
  }
  return keys;
}

/** A new X25519 identity and its recipient (for `tickethub-backup keygen`). */
export async function generateKeyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** For the dashboard and the stats API: are new backups encrypted, to how many recipients, or what is wrong with the setting. */
export function encryptionStatus(): { encrypted: boolean; encryptionRecipients: number; encryptionProblem?: string } {
  try {
    const r = encryptionRecipients();
    return { encrypted: Boolean(r), encryptionRecipients: r?.length ?? 0 };
  } catch (err) {
    // A broken setting makes every backup fail: say so instead of claiming "encrypted".
    return { encrypted: false, encryptionRecipients: 0, encryptionProblem: oneLine((err as Error).message) };
  }
}
