import { formatBytes } from '../../lib/backup/run-backup';
import { listBackups } from '../../lib/backup/list-backups';
import { openStorage } from '../../lib/storage/open-storage';
import { parseCommandArgs } from '../parse-command-args';
import { printableLines } from '../printable';

export const summary = 'list the backups in storage (from their manifests)';

const USAGE = `Usage: tickethub-backup list [--storage URL] [--json]

  --storage URL   file:///dir, a directory, or s3://bucket/prefix (default: BACKUP_STORAGE_URL, else .data/backups)
  --json          print a JSON array

  SIZE is the archive file as stored: for an encrypted backup, marked "(age)", the encrypted
  file <id>.sql.gz.age (what it costs in storage and what a download transfers).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { storage: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const storage = openStorage(values.storage as string | undefined);
  try {
    const backups = await listBackups(storage);
    // Writes that never finished are no backup, but they take space: say so (on stderr, so --json
    // stays the list). A failed run's are removed by the next backup, prune or reindex.
    const pending = await storage.listIncomplete?.().catch(() => null);
    if (pending?.length) {
      const keys = pending.map((p) => p.key);
      process.stderr.write(
        printableLines([`tickethub-backup list: ${keys.length} unfinished upload(s) in storage (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}): a backup still running, or left by a failed run and removed by the next backup, prune or reindex`]),
      );
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(backups.map(({ manifest: _m, ...b }) => b))}\n`);
      return 0;
    }
    if (!backups.length) {
      process.stdout.write(`no backups in ${storage.location}\n`);
      return 0;
    }
    const rows = backups.map((b) => [b.id, b.startedAt ?? '', b.tables?.toString() ?? '', b.rows?.toLocaleString('en-US') ?? '', b.sizeBytes !== null ? `${formatBytes(b.sizeBytes)}${b.encrypted ? ' (age)' : ''}` : '', b.status]);
    const head = ['ID', 'STARTED', 'TABLES', 'ROWS', 'SIZE', 'STATUS'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}
