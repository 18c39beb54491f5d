import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError } from '../errors';
import type { StorageBackend } from './storage-backend';
import { LocalStorage } from './local/local-storage';
import { S3Storage } from './s3/s3-storage';

type ParsedStorage = { kind: 'local'; root: string } | { kind: 's3'; bucket: string; prefix: string };

/** The storage URL in effect: the argument, else BACKUP_STORAGE_URL, else `<cwd>/.data/backups`. */
export function resolveStorageUrl(url?: string): string {
  const u = url?.trim() || process.env.BACKUP_STORAGE_URL?.trim();
  // turbopackIgnore: a storage directory chosen at run time is data, not code; without the hint
  // Turbopack traces the whole project into every server function that can open storage.
  return u || path.join(/* turbopackIgnore: true */ process.cwd(), '.data', 'backups');
}

/**
 * Parses a storage URL without touching the storage. Accepted: `file:///abs/dir`, an absolute or
 * relative path (relative to process.cwd()), `s3://bucket/prefix`. Anything else, or an s3 URL
 * carrying credentials, is AppError('config').
 */
export function parseStorageUrl(url?: string): ParsedStorage {
  const raw = resolveStorageUrl(url);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase();
  // A one-letter "scheme" is a Windows drive (C:\...), handled as a path.
  if (!scheme || scheme.length === 1) return { kind: 'local', root: path.resolve(/* turbopackIgnore: true */ process.cwd(), raw) };
  if (scheme === 'file') {
    let root: string;
    try {
      root = fileURLToPath(raw);
    } catch (err) {
      throw new AppError('config', `invalid file storage URL ${JSON.stringify(raw)}: use file:///absolute/dir`, { cause: err });
    }
    return { kind: 'local', root: path.resolve(root) };
  }
  if (scheme === 's3') {
    let u: URL;
    try {
      u = new URL(raw);
    } catch (err) {
      throw new AppError('config', 'invalid S3 storage URL: use s3://bucket/prefix', { cause: err });
    }
    if (u.username || u.password) {
      // Do not echo the URL: it holds a secret.
      throw new AppError('config', 'S3 storage URL must not contain credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead');
    }
    const bucket = u.hostname;
    if (!bucket) throw new AppError('config', 'S3 storage URL has no bucket: use s3://bucket/prefix');
    if (u.search || u.hash) throw new AppError('config', `S3 storage URL takes no query or fragment: use s3://bucket/prefix (endpoint via S3_ENDPOINT)`);
    const prefix = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
    return { kind: 's3', bucket, prefix };
  }
  throw new AppError('config', `unsupported storage URL scheme '${scheme}:': use file:///dir, a directory path, or s3://bucket/prefix`);
}

/**
 * Opens the StorageBackend for a storage URL (see parseStorageUrl; default BACKUP_STORAGE_URL,
 * else `<cwd>/.data/backups`). Nothing is contacted or created until the first call; S3 settings
 * (credentials, region, S3_ENDPOINT, S3_FORCE_PATH_STYLE) come from the environment.
 */
export function openStorage(url?: string): StorageBackend {
  const p = parseStorageUrl(url);
  if (p.kind === 'local') return new LocalStorage(p.root);
  return new S3Storage({ bucket: p.bucket, prefix: p.prefix });
}

/**
 * The storage location for display (logs, UI, CLI output, backup_runs.storage location): the
 * normalized URL with any credentials, query and fragment removed. Never throws: an unparseable
 * URL is shown as its scheme only.
 */
export function describeStorage(url?: string): string {
  try {
    const p = parseStorageUrl(url);
    if (p.kind === 'local') return pathToFileURL(p.root).href;
    return `s3://${p.bucket}${p.prefix ? `/${p.prefix}` : ''}`;
  } catch {
    const raw = resolveStorageUrl(url);
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw)?.[1];
    if (scheme === 's3' || scheme === 'S3') {
      // Strip credentials even from a URL we refuse to open.
      try {
        const u = new URL(raw);
        return `s3://${u.hostname}${u.pathname.replace(/\/+$/, '')}`;
      } catch {
        /* fall through */
      }
    }
    return scheme ? `${scheme}://…` : '(invalid storage location)';
  }
}
