import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encryptionRecipients } from '../backup/encryption/encryption-keys';
import { signingKeyFromEnv } from '../backup/manifest-signature';
import { AppError } from '../errors';
import { parseStorageUrl } from '../storage/open-storage';

type Env = Record<string, string | undefined>;

/** A set variable's trimmed value, or undefined when unset or blank (= the default). */
function setValue(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function wholeNumber(env: Env, name: string, min: number, max: number): void {
  const v = setValue(env, name);
  if (v === undefined) return;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new AppError('config', `${name} must be a whole number from ${min} to ${max}, got '${v}'`);
}

/**
 * The settings the web app reads on every request, checked before anything starts: a value the app
 * would silently ignore (SESSION_COOKIE_SECURE=yes, TRUST_PROXY_HOPS=one) or fail on later
 * (APP_TIME_ZONE on every page with a date, BACKUP_STORAGE_URL on every backup) must not give a
 * server that looks started. AppError('config') with one line naming the variable.
 */
export function assertWebEnv(env: Env = process.env): void {
  const secure = setValue(env, 'SESSION_COOKIE_SECURE');
  if (secure !== undefined && !/^(true|false|1|0)$/i.test(secure)) {
    throw new AppError('config', `SESSION_COOKIE_SECURE must be true or false (or unset: Secure per request), got '${secure}'`);
  }
  wholeNumber(env, 'TRUST_PROXY_HOPS', 0, 10);
  wholeNumber(env, 'DATABASE_POOL_MAX', 1, 1000);
  // What every backup of the in-process scheduler and the dashboard reads (each refused there too,
  // but only when a backup runs: hours after a start that looked fine).
  wholeNumber(env, 'BACKUP_WORKERS', 1, 16);
  wholeNumber(env, 'BACKUP_GZIP_LEVEL', 1, 9);
  signingKeyFromEnv(env as NodeJS.ProcessEnv);
  encryptionRecipients(env.BACKUP_ENCRYPTION_RECIPIENTS);
  const zone = setValue(env, 'APP_TIME_ZONE');
  if (zone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
    } catch {
      throw new AppError('config', `APP_TIME_ZONE is not a time zone: '${zone}' (use an IANA name such as Africa/Addis_Ababa)`);
    }
  }
}

/**
 * Creates `dir` if needed and writes and removes a probe file in it: AppError('config') naming
 * what the directory is for (`what`), the variable that sets it and the fix, when it cannot.
 */
export async function assertWritableDir(dir: string, what: string, variable: string): Promise<void> {
  const probe = path.join(dir, `.write-test-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new AppError('config', `${what} ${dir} (${variable}) cannot be written: ${code} (fix its permissions or set ${variable})`, { cause: err });
  }
}

/**
 * BACKUP_STORAGE_URL as the app will use it: a malformed URL is refused; a local directory must be
 * writable (created if missing). An s3:// bucket is not contacted here (credentials and network
 * are the backup's to report, and the dashboard shows the failure).
 */
export async function assertStorageEnv(env: Env = process.env): Promise<void> {
  let parsed;
  try {
    parsed = parseStorageUrl(setValue(env, 'BACKUP_STORAGE_URL'));
  } catch (err) {
    throw new AppError('config', `BACKUP_STORAGE_URL: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.kind === 'local') return assertWritableDir(parsed.root, 'backup storage directory', 'BACKUP_STORAGE_URL');
  const endpoint = setValue(env, 'S3_ENDPOINT');
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpoint)) {
    throw new AppError('config', `S3_ENDPOINT must be an http:// or https:// URL (e.g. http://minio:9000), got '${endpoint.replace(/\/\/[^@/]*@/, '//***@')}'`);
  }
  const pathStyle = setValue(env, 'S3_FORCE_PATH_STYLE');
  if (pathStyle !== undefined && !/^(true|false|1|0|yes|no)$/i.test(pathStyle)) throw new AppError('config', `S3_FORCE_PATH_STYLE must be true or false, got '${pathStyle}'`);
}
