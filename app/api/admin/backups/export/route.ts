// GET /api/admin/backups/export – TicketHub tables for spreadsheets (super_admin and admin).
//   ?table=NAME  one CSV (UTF-8 BOM first so Excel shows Amharic)
//   ?all=true    application/zip: one <table>.csv per table + manifest.json (tables, rows,
//                redacted columns, source, snapshot time)
//   &backup=<id> read the tables from that backup's archive (as of its snapshot), not live data
//   &tz=UTC      timestamps in UTC instead of APP_TIME_ZONE (always ISO 8601 with the offset)
// Streamed from COPY; secret columns (password/token/secret/hash) never included; formula-like
// text guarded (lib/queries/csv-formula-guard.ts). Writes a DATA_EXPORTED activity row.
import { BACKUP_ROLES } from '@/lib/auth/roles';
import { getPool } from '@/lib/db/pool';
import { AppError } from '@/lib/errors';
import { auditRequest } from '@/lib/http/audit';
import { otherMethods, withAdmin } from '@/lib/http/with-admin';
import { parseBackupId } from '@/lib/queries/backup-detail';
import { backupExportSource } from '@/lib/queries/backup-export-source';
import { EXPORTABLE_TABLES, exportTimeZone, exportableTable, openTableExport } from '@/lib/queries/table-export';
import { openStorage } from '@/lib/storage/open-storage';

export const maxDuration = 300;
export const dynamic = 'force-dynamic';

const KNOWN = new Set(['table', 'all', 'backup', 'tz']);

export const GET = withAdmin(
  async (req, { admin }) => {
    const params = new URL(req.url).searchParams;
    for (const k of params.keys()) if (!KNOWN.has(k)) throw new AppError('bad_request', `unknown parameter ${JSON.stringify(k.slice(0, 40))}; use table, all, backup, tz`);
    const table = params.get('table');
    const all = params.get('all');
    if (all !== null && all !== 'true') throw new AppError('bad_request', 'all must be "true"');
    if ((table === null) === (all === null)) {
      throw new AppError('bad_request', `give either table=NAME or all=true; tables: ${EXPORTABLE_TABLES.join(', ')}`);
    }
    const tables = all ? [...EXPORTABLE_TABLES] : [exportableTable(table!)];
    const backupId = params.get('backup');
    const tz = params.get('tz');
    const timeZone = exportTimeZone(tz === null ? undefined : tz);
    const storage = backupId !== null ? openStorage() : null;
    const source = storage ? backupExportSource(storage, parseBackupId(backupId!)) : undefined;
    const pool = getPool();
    let exp;
    try {
      exp = await openTableExport(pool, { tables, format: all ? 'zip' : 'csv', timeZone, source });
    } finally {
      // Everything is read from storage before the response starts.
      await storage?.close();
    }
    // The audit row says what left and who took it, never any of the data.
    await auditRequest(pool, req, admin, {
      action: 'DATA_EXPORTED',
      entityType: 'export',
      entityId: all ? 'all' : tables[0],
      description: `${all ? 'ZIP' : 'CSV'} export of ${all ? `all ${tables.length} TicketHub tables` : tables[0]} from ${backupId ? `backup ${backupId}` : 'live data'}`,
      metadata: { tables, format: all ? 'zip' : 'csv', source: backupId ?? 'live', timeZone },
    }).catch(async (err) => {
      await exp.stream.cancel();
      throw err;
    });
    const day = new Date().toISOString().slice(0, 10);
    const name = `tickethub-${all ? 'all' : tables[0]}-${backupId ? backupId : day}`;
    return new Response(exp.stream, {
      headers: {
        'Content-Type': all ? 'application/zip' : 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${name}.${all ? 'zip' : 'csv'}"`,
        'Cache-Control': 'no-store',
      },
    });
  },
  { roles: BACKUP_ROLES },
);

export const { POST, PUT, PATCH, DELETE } = otherMethods('GET');
