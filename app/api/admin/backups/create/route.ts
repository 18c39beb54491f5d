// POST /api/admin/backups/create – runs a manual backup now and answers when it is stored and
// verified: {id, status, tables, rows, sizeBytes, durationMs, sha256}. Optional JSON body
// {"description": "..."} (≤ 500 characters, no control characters). A backup already running →
// 409 with the engine's message. ?async=1 → 202 {id} as soon as the run is recorded; the backup
// continues after the response (Next's after(), so serverless hosts keep it alive within
// maxDuration) and its progress is read from GET /api/admin/backups/{id}/events.
import { after } from 'next/server';
import { z } from 'zod';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { runBackup } from '@/lib/backup/run-backup';
import { databaseUrl, getPool } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { auditRequest } from '@/lib/http/audit';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { openStorage } from '@/lib/storage/open-storage';

// A backup of a large database takes minutes; hosts that cap route duration read this.
export const maxDuration = 300;
export const dynamic = 'force-dynamic';

const Body = z.object({ description: z.string().trim().max(500).optional() }).strict();
const BAD_BODY = 'Request body must be empty or JSON: {"description": "..."} (at most 500 characters)';
// NUL cannot be stored in PostgreSQL text, and control characters would reach terminals (`show`):
// C0 (but tab and newlines), DEL, C1 (0x9B is a one-byte CSI on some terminals), the line/paragraph
// separators and the bidirectional overrides/isolates ("Trojan source": they reorder what the
// history and the activity log show after them).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

async function readBody(req: Request): Promise<z.infer<typeof Body>> {
  const text = await req.text();
  if (text.trim() === '') return {};
  // JSON only: like sign-in, a body a cross-site form could send is refused.
  const type = (req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new AppError('bad_request', 'Content-Type must be application/json');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AppError('bad_request', BAD_BODY);
  }
  const parsed = Body.safeParse(raw);
  if (!parsed.success) throw new AppError('bad_request', BAD_BODY);
  if (parsed.data.description && CONTROL_CHARS.test(parsed.data.description)) {
    throw new AppError('bad_request', 'description must not contain control characters (NUL, escape, C1, bidirectional overrides, ...)');
  }
  return parsed.data;
}

export const POST = withAdmin(
  async (req, { admin }) => {
    const mode = new URL(req.url).searchParams.get('async');
    if (mode !== null && mode !== '1' && mode !== 'true' && mode !== '0' && mode !== 'false') throw new AppError('bad_request', 'async must be 1 or 0');
    const body = await readBody(req);
    let started!: (id: string) => void;
    const recorded = new Promise<string>((resolve) => (started = resolve));
    const storage = openStorage();
    const run = runBackup({
      databaseUrl: databaseUrl(),
      storage,
      trigger: 'manual',
      triggeredBy: admin.id,
      description: body.description ?? '',
      onProgress: (p) => started(p.id),
    }).finally(() => storage.close());
    const audit = (id: string) =>
      auditRequest(getPool(), req, admin, { action: 'BACKUP_STARTED', entityId: id, description: `Started a manual backup ${id}`, metadata: { backupId: id, async: mode === '1' || mode === 'true' } }).catch(() => {});
    if (mode === '1' || mode === 'true') {
      // The first progress report comes after the lock is taken and the row written; a refusal
      // (409: one is running) rejects before it and is answered as an error.
      const id = await Promise.race([recorded, run.then((r) => r.id)]);
      await audit(id);
      // The outcome is recorded by the engine in backup_runs and the activity log.
      after(() => run.then(() => undefined, () => undefined));
      return Response.json({ id }, { status: 202, headers: { Location: `/api/admin/backups/${id}` } });
    }
    const r = await run;
    await audit(r.id);
    return Response.json({
      id: r.id,
      status: r.status,
      tables: r.tables,
      rows: r.rows,
      sizeBytes: r.sizeBytes,
      durationMs: r.durationMs,
      sha256: r.sha256,
      ...(r.warnings ? { warnings: r.warnings } : {}),
    });
  },
  { roles: BACKUP_ROLES },
);

export const { GET, PUT, PATCH, DELETE } = otherMethods('POST');
