// POST /api/admin/backups/create – runs a manual backup now and answers when it is stored and
// verified: {id, status, tables, rows, sizeBytes, durationMs, sha256}. Optional JSON body
// {"description": "..."} (≤ 500 characters). A backup already running → 409 with the engine's message.
import { z } from 'zod';
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { runBackup } from '@/lib/backup/run-backup';
import { databaseUrl } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { withAdmin } from '@/lib/http/with-admin';
import { openStorage } from '@/lib/storage/open-storage';

// A backup of a large database takes minutes; hosts that cap route duration read this.
export const maxDuration = 300;
export const dynamic = 'force-dynamic';

const Body = z.object({ description: z.string().trim().max(500).optional() }).strict();
const BAD_BODY = 'Request body must be empty or JSON: {"description": "..."} (at most 500 characters)';

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
  return parsed.data;
}

export const POST = withAdmin(
  async (req, { admin }) => {
    const body = await readBody(req);
    const r = await runBackup({
      databaseUrl: databaseUrl(),
      storage: openStorage(),
      trigger: 'manual',
      triggeredBy: admin.id,
      description: body.description ?? '',
    });
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
