import { runDrill } from '../../lib/backup/drill';
import { formatProblem, verifyBackup } from '../../lib/backup/verify';
import { checkDatabaseUrl } from '../../lib/db/pool';
import { openCliDatabase } from '../../lib/db/local-database';
import type { LocalDatabase } from '../../lib/db/local-database';
import { AppError } from '../../lib/errors';
import { openStorage } from '../../lib/storage/open-storage';
import { applyIdentityOption, IDENTITY_HELP } from '../identity-option';
import { tableCountLabel } from '../../lib/backup/table-count-label';
import { parseCommandArgs } from '../parse-command-args';
import { printableJson, printableLines } from '../printable';
import { formatDuration } from '../progress-bar';

export const summary = 'check a backup without a database (checksums, row counts), or run a restore drill (--drill)';

const USAGE = `Usage: tickethub-backup verify <id> [--storage URL] [--json] [--drill [--drill-url URL]]

  --storage URL     where the backup lives (default: BACKUP_STORAGE_URL, else .data/backups)
  --drill           also restore it into a scratch database and compare every table with the manifest
  --drill-url URL   an EMPTY database for the drill (default: DRILL_DATABASE_URL, else a scratch
                    database created and dropped on the DATABASE_URL server)
  --create-roles    drill: create the roles the backup needs that the server lacks (NOLOGIN)
  --json            print one JSON object
${IDENTITY_HELP}
  Without an identity an encrypted backup's ciphertext SHA-256 is checked, not its contents.

Exit 0 when everything matches, 1 on any mismatch.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { storage: { type: 'string' }, json: { type: 'boolean' }, drill: { type: 'boolean' }, 'drill-url': { type: 'string' }, identity: { type: 'string' }, 'create-roles': { type: 'boolean' } },
    USAGE,
    1,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const id = positionals[0];
  if (!id) throw new AppError('usage', `missing backup id; ${USAGE.split('\n')[0].replace(/^Usage: /, 'usage: ')}`);
  if (values['drill-url'] !== undefined && !values.drill) throw new AppError('usage', '--drill-url needs --drill');
  if (values['drill-url'] !== undefined) checkDatabaseUrl(values['drill-url'] as string, '--drill-url');
  await applyIdentityOption(values.identity as string | undefined);
  const storage = openStorage(values.storage as string | undefined);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let local: LocalDatabase | undefined;
  try {
    const v = await verifyBackup(storage, id, { signal: ac.signal });
    let drill: Awaited<ReturnType<typeof runDrill>> | null = null;
    if (values.drill && v.ok) {
      const drillUrl = (values['drill-url'] as string | undefined) ?? process.env.DRILL_DATABASE_URL;
      let appUrl = process.env.DATABASE_URL;
      if (!appUrl) {
        // Demo mode: the local database of `npm start` gets the scratch database and the record.
        try {
          local = await openCliDatabase();
          appUrl = local.url;
        } catch (err) {
          if (!drillUrl) throw err;
        }
      }
      if (!drillUrl && !appUrl) throw new AppError('config', 'a drill needs --drill-url, DRILL_DATABASE_URL or DATABASE_URL (whose server gets the scratch database)');
      drill = await runDrill({ storage, id, drillUrl, serverUrl: appUrl, recordUrl: appUrl, signal: ac.signal, createRoles: Boolean(values['create-roles']) });
    }
    const ok = v.ok && (!values.drill || drill?.ok === true);
    if (values.json) {
      process.stdout.write(`${printableJson({ ok, verify: v, drill })}\n`);
    } else {
      const out: string[] = [];
      if (v.ok && v.encryption && !v.encryption.lookedInside) {
        out.push(`backup ${v.id} is encrypted: the stored ciphertext matches the manifest's size and SHA-256, but without an identity (--identity FILE or BACKUP_ENCRYPTION_IDENTITY) verify could not look inside: members and row counts NOT checked`);
      } else if (v.ok) out.push(`backup ${v.id}${v.encryption ? ' (encrypted, decrypted with the identity)' : ''} verified: archive SHA-256 ok, ${v.entries} members decompress with matching SHA-256, ${v.tables} tables, ${v.rows.toLocaleString('en-US')} rows (${formatDuration(v.durationMs)})`);
      else {
        out.push(`backup ${v.id} FAILED verification: ${v.problems.length} problem(s)`);
        for (const p of v.problems.slice(0, 50)) out.push(`  ${formatProblem(p)}`);
        if (v.problems.length > 50) out.push(`  … and ${v.problems.length - 50} more`);
        if (values.drill) out.push('drill not run: the backup did not verify');
      }
      for (const w of [...v.warnings, ...(drill?.warnings ?? [])].filter((x, i, a) => a.indexOf(x) === i)) out.push(`warning: ${w}`);
      if (drill) {
        if (drill.ok) {
          out.push(`drill passed: restored into ${drill.target}; ${tableCountLabel(drill.tables)}, ${drill.rows.toLocaleString('en-US')} rows match the backup's row counts and content hashes (${formatDuration(drill.durationMs)})${drill.recorded ? '; recorded in backup_runs' : ''}`);
          for (const n of (drill.notes ?? []).filter((x) => x.includes('not compared across versions'))) out.push(`note: ${n}`);
        } else {
          out.push(`drill FAILED (${drill.target}): ${drill.error}`);
          for (const t of drill.tables.filter((x) => x.rows !== x.expectedRows || x.contentMatches === false)) {
            out.push(`  ${t.schema}.${t.name}: ${t.rows}/${t.expectedRows} rows, content ${t.contentMatches ? 'matches' : 'DIFFERS'}`);
          }
        }
      }
      (ok ? process.stdout : process.stderr).write(printableLines(out));
    }
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await storage.close();
    await local?.close();
  }
}
