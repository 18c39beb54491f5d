import { describe, expect, it } from 'vitest';
import { backupIdTime, newBackupId } from '../../lib/backup/backup-id';
import { BACKUP_ID_RE } from '../../lib/backup/manifest';
import { planChunks, formatBytes } from '../../lib/backup/run-backup';
import { copyLine, copyQuery } from '../../lib/backup/copy-chunk';

describe('backup ids', () => {
  it('are YYYYMMDDTHHMMSSZ-<8 base36>, sort by time and encode their start', () => {
    const a = newBackupId(new Date('2026-11-25T02:00:00.123Z'));
    const b = newBackupId(new Date('2026-11-25T02:00:01Z'));
    expect(a).toMatch(/^20261125T020000Z-[0-9a-z]{8}$/);
    expect(a).toMatch(BACKUP_ID_RE);
    expect([b, a].sort()).toEqual([a, b]);
    expect(backupIdTime(a)?.toISOString()).toBe('2026-11-25T02:00:00.000Z');
    expect(backupIdTime('../etc/passwd')).toBeNull();
    expect(new Set(Array.from({ length: 200 }, () => newBackupId(new Date(0)))).size).toBe(200);
  });
});

describe('chunk planning', () => {
  const tables = [
    { schema: 'public', name: 'small', columns: ['a'], pages: 3 },
    { schema: 'public', name: 'big', columns: ['a', 'b'], pages: 2500 },
    { schema: 'public', name: 'nocols', columns: [], pages: 5000 },
  ];
  it('splits big tables into contiguous ctid ranges, open at both ends, biggest table first', () => {
    const c = planChunks(tables, 1000, true);
    expect(c.map((x) => `${x.table}:${x.chunk}:${x.fromPage}-${x.toPage}`)).toEqual(['nocols:0:null-null', 'big:0:null-1000', 'big:1:1000-2000', 'big:2:2000-null', 'small:0:null-null']);
    expect(c.filter((x) => x.table === 'big').reduce((s, x) => s + x.pages, 0)).toBe(2500);
  });
  it('never splits on servers without TID range scans (PostgreSQL < 14) or when chunking is off', () => {
    expect(planChunks(tables, 1000, false).every((x) => x.fromPage === null && x.toPage === null)).toBe(true);
    expect(planChunks(tables, 0, true)).toHaveLength(3);
  });
  it('writes COPY statements with every name quoted', () => {
    const c = { schema: 'my "s"', table: 'ቲኬት', columns: ['Id', 'x y'], chunk: 1, fromPage: 8, toPage: 16, pages: 8 };
    expect(copyLine(c)).toBe('COPY "my ""s"""."ቲኬት" ("Id", "x y") FROM stdin;');
    expect(copyQuery(c)).toBe(`COPY (SELECT "Id", "x y" FROM ONLY "my ""s"""."ቲኬት" WHERE ctid >= '(8,0)'::pg_catalog.tid AND ctid < '(16,0)'::pg_catalog.tid) TO STDOUT`);
    expect(copyQuery({ ...c, fromPage: null, toPage: null })).toBe('COPY "my ""s"""."ቲኬት" ("Id", "x y") TO STDOUT');
    expect(copyLine({ ...c, columns: [] })).toBe('COPY "my ""s"""."ቲኬት" FROM stdin;');
  });
  it('formats sizes like the activity log descriptions', () => {
    expect(formatBytes(2.1 * 1024 * 1024)).toBe('2.1 MB');
    expect(formatBytes(512)).toBe('512 B');
  });
});
