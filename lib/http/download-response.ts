import type { Readable } from 'node:stream';
import { BACKUP_ROLES } from '../auth/roles';
import { archiveKey, encryptedArchiveKey, manifestKey } from '../backup/manifest';
import { getPool } from '../db/pool';
import { AppError } from '../errors';
import { parseBackupId } from '../queries/backup-detail';
import { openStorage } from '../storage/open-storage';
import type { StorageBackend } from '../storage/storage-backend';
import { isNotFound } from '../storage/storage-backend';
import { auditRequest } from './audit';
import { CONTENT_LENGTH_HEADER } from './peer-address';
import { withAdmin } from './with-admin';

/**
 * A streamed attachment of one stored object with Content-Length from storage's metadata (the
 * browser shows real progress). Closes `storage` when the body ends or the client goes away.
 * AppError 'not_found' (before any byte) when the object is missing.
 */
export async function storedObjectResponse(storage: StorageBackend, key: string, filename: string, contentType: string): Promise<Response> {
  let size: number;
  let body: Readable;
  try {
    size = (await storage.stat(key)).size;
    body = await storage.get(key);
  } catch (err) {
    await storage.close();
    if (isNotFound(err)) throw new AppError('not_found', `${key} is not in storage`);
    throw err;
  }
  const it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const close = () => {
    body.destroy();
    void storage.close();
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const r = await it.next();
        if (r.done) {
          ctrl.close();
          close();
        } else ctrl.enqueue(new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength));
      } catch (err) {
        close();
        ctrl.error(err);
      }
    },
    cancel: close,
  });
  return new Response(stream, {
    headers: {
      'Content-Type': contentType,
      'Content-Length': String(size),
      [CONTENT_LENGTH_HEADER]: String(size), // Next drops Content-Length; see peer-address.ts
      'Content-Disposition': `attachment; filename="${filename}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

/**
 * The stored archive of backup `id`: `<id>.sql.gz.age` when it exists (an encrypted backup, which
 * never writes a plain `<id>.sql.gz`: one beside it was put there by someone else, and served it
 * would hand the operator a planted file for `gunzip | psql`), else `<id>.sql.gz`.
 */
export async function archiveKeyToServe(storage: StorageBackend, id: string): Promise<string> {
  const encrypted = encryptedArchiveKey(id);
  return (await storage.stat(encrypted).then(() => true, () => false)) ? encrypted : archiveKey(id);
}

/**
 * The GET handler of /api/admin/backups/{id}/download (the archive) and /manifest: the stored file
 * streamed as an attachment, one BACKUP_DOWNLOADED activity row per download.
 */
export function backupFileRoute(file: 'archive' | 'manifest') {
  return withAdmin<{ id: string }>(
    async (req, { admin, params }) => {
      const id = parseBackupId(params.id);
      const storage = openStorage();
      const key = file === 'archive' ? await archiveKeyToServe(storage, id) : manifestKey(id);
      const type = file === 'manifest' ? 'application/json; charset=utf-8' : key.endsWith('.age') ? 'application/octet-stream' : 'application/gzip';
      const res = await storedObjectResponse(storage, key, key, type);
      // HEAD (Next answers it with this GET handler): the headers only, and nothing was downloaded,
      // so no BACKUP_DOWNLOADED row (a link checker or prefetch would fill the audit trail with lies).
      if (req.method === 'HEAD') {
        await res.body?.cancel();
        return new Response(null, { status: res.status, headers: res.headers });
      }
      await auditRequest(getPool(), req, admin, {
        action: 'BACKUP_DOWNLOADED',
        entityId: id,
        description: `Downloaded the ${file} of backup ${id}`,
        metadata: { backupId: id, file, sizeBytes: Number(res.headers.get('content-length')) },
      }).catch(async (err) => {
        await res.body?.cancel();
        throw err;
      });
      return res;
    },
    { roles: BACKUP_ROLES },
  );
}
