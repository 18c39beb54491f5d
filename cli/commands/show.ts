import { formatBytes } from '../../lib/backup/run-backup';
import { readManifest } from '../../lib/backup/list-backups';
import type { Manifest } from '../../lib/backup/manifest';
import { openStorage } from '../../lib/storage/open-storage';
import { AppError } from '../../lib/errors';
import { checkManifestSignature } from '../../lib/backup/manifest-signature';
import { printableJson, printableLines } from '../printable';
import { parseCommandArgs } from '../parse-command-args';

/** Format v2+: the roles a restore needs, external dependencies and warnings recorded at backup time. */
function securityLines(m: Manifest): string[] {
  const out: string[] = [];
  if (m.roles) {
    const all = [...new Set([...m.roles.owners, ...m.roles.privileges, ...m.roles.policies])].sort();
    out.push('', `  roles      ${all.length ? all.join(', ') : '(none)'}`);
  }
  for (const d of m.externalDependencies ?? []) out.push(`  needs      ${d.kind} ${d.name} (used by ${d.usedBy.join('; ')})`);
  for (const w of m.warnings ?? []) out.push(`  warning    ${w}`);
  return out;
}

export const summary = 'show one backup: its source, tables, rows and checksums (from its manifest)';

const USAGE = `Usage: tickethub-backup show <id> [--storage URL] [--json]

  --storage URL   file:///dir, a directory, or s3://bucket/prefix (default: BACKUP_STORAGE_URL, else .data/backups)
  --json          print the manifest`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { storage: { type: 'string' }, json: { type: 'boolean' } }, USAGE, 1);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const id = positionals[0];
  if (!id) throw new AppError('usage', `missing backup id; ${USAGE.split('\n')[0].replace(/^Usage: /, 'usage: ')}`);
  const storage = openStorage(values.storage as string | undefined);
  try {
    const m = await readManifest(storage, id);
    const sig = checkManifestSignature(m);
    if (values.json) {
      process.stdout.write(`${printableJson(m, 2)}\n`);
      if (sig.state !== 'valid') process.stderr.write(printableLines([`${sig.ok ? 'warning' : 'REFUSED'}: ${sig.message}`]));
      return sig.ok ? 0 : 1;
    }
    const lines = [
      `backup ${m.id}`,
      `  started    ${m.startedAt}`,
      `  finished   ${m.finishedAt}`,
      `  trigger    ${m.trigger}${m.description ? `  (${m.description})` : ''}`,
      `  source     ${m.source.database} on PostgreSQL ${m.source.serverVersion}, schemas ${m.source.schemas.join(', ')}`,
      `  app        ${m.app.version}, migration ${m.app.migration ?? '(none)'}`,
      // An encrypted backup: the stored file is the ciphertext, so its size and SHA-256 are what a
      // download weighs and what `sha256sum` of it gives; the gzip inside is named as such.
      ...(m.encryption
        ? [
            `  archive    ${storage.location.replace(/\/$/, '')}/${m.archive.key}  ${formatBytes(m.encryption.ciphertext.sizeBytes)} (${formatBytes(m.archive.rawBytes)} uncompressed)`,
            `  sha256     ${m.encryption.ciphertext.sha256}  (the stored, encrypted file)`,
            `  encrypted  ${m.encryption.method}, for ${m.encryption.recipients.length} recipient${m.encryption.recipients.length === 1 ? '' : 's'}: ${m.encryption.recipients.join(', ')}`,
            `  gzip       ${m.archive.sha256}  (the gzip archive inside, ${formatBytes(m.archive.sizeBytes)})`,
          ]
        : [`  archive    ${storage.location.replace(/\/$/, '')}/${m.archive.key}  ${formatBytes(m.archive.sizeBytes)} (${formatBytes(m.archive.rawBytes)} uncompressed)`, `  sha256     ${m.archive.sha256}`]),
      `  signature  ${sig.ok ? sig.message : `REFUSED — ${sig.message}`}`,
      `  totals     ${m.totals.rows.toLocaleString('en-US')} rows in ${m.totals.tables} tables, ${m.entries.length} archive members`,
      '',
      '  TABLE'.padEnd(42) + 'ROWS'.padStart(14) + '  CHUNKS',
      ...m.tables.map((t) => `  ${`${t.schema}.${t.name}`.padEnd(40)}${(t.dataExcluded ? 'excluded' : t.rows.toLocaleString('en-US')).padStart(14)}  ${t.entries.length}`),
      ...securityLines(m),
    ];
    process.stdout.write(printableLines(lines));
    return sig.ok ? 0 : 1;
  } finally {
    await storage.close();
  }
}
