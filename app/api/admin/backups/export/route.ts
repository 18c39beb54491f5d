// GET /api/admin/backups/export?table=NAME | ?all=true – CSV download of TicketHub tables
// (super_admin and admin). Streamed from COPY; secrets (password/token/secret/hash columns) never
// included; UTF-8 BOM first so Excel shows Amharic. all=true: one CSV with a `# table: name`
// section per table (a zip would be nicer; no zip package is installed).
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { logActivity } from '@/lib/activity/log-activity';
import { getPool } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { clientIp } from '@/lib/http/client-ip';
import { withAdmin } from '@/lib/http/with-admin';
import { EXPORTABLE_TABLES, exportableTable, openCsvExport } from '@/lib/queries/table-export';

export const maxDuration = 300;
export const dynamic = 'force-dynamic';

export const GET = withAdmin(
  async (req, { admin }) => {
    const params = new URL(req.url).searchParams;
    const table = params.get('table');
    const all = params.get('all');
    if (all !== null && all !== 'true') throw new AppError('bad_request', 'all must be "true"');
    if ((table === null) === (all === null)) {
      throw new AppError('bad_request', `give either table=NAME or all=true; tables: ${EXPORTABLE_TABLES.join(', ')}`);
    }
    const tables = all ? [...EXPORTABLE_TABLES] : [exportableTable(table!)];
    const pool = getPool();
    const exp = await openCsvExport(pool, tables);
    // The audit row says what left and who took it, never any of the data.
    await logActivity(pool, {
      action: 'DATA_EXPORTED',
      entityType: 'export',
      entityId: all ? 'all' : tables[0],
      description: `CSV export of ${all ? `all ${tables.length} TicketHub tables` : tables[0]}`,
      ipAddress: clientIp(req.headers),
      userAgent: req.headers.get('user-agent'),
      adminUserId: admin.id,
      metadata: { tables, format: 'csv' },
    }).catch(async (err) => {
      await exp.stream.cancel();
      throw err;
    });
    const day = new Date().toISOString().slice(0, 10);
    return new Response(exp.stream, {
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="tickethub-${all ? 'all' : tables[0]}-${day}.csv"`,
        'Cache-Control': 'no-store',
      },
    });
  },
  { roles: BACKUP_ROLES },
);
