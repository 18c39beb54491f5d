import { createInterface } from 'node:readline/promises';
import { formatBytes } from '../../lib/backup/format-bytes';
import { isArchivePath, splitTableList } from '../../lib/backup/restore/preflight';
import { restoreBackup } from '../../lib/backup/restore/restore-backup';
import type { RestorePlan, RestoreProgress, RestoreResult } from '../../lib/backup/restore/restore-types';
import { PARTLY_RESTORED, restoreParallel } from '../../lib/backup/restore/restore-parallel';
import { createDatabase, dropDatabase } from '../../lib/db/create-database';
import { openCliDatabase, withDatabase } from '../../lib/db/local-database';
import { AppError, oneLine, toAppError } from '../../lib/errors';
import type { StorageBackend } from '../../lib/storage/storage-backend';
import { applyIdentityOption, IDENTITY_HELP } from '../identity-option';
import { tableCountLabel } from '../../lib/backup/table-count-label';
import { integerOption, parseCommandArgs } from '../parse-command-args';
import { printable, printableJson, printableLines } from '../printable';
import { formatDuration } from '../progress-bar';

export const summary = 'restore a backup (fresh, replace, data-only, or tables into a new schema) in one transaction';

const USAGE = `Usage: tickethub-backup restore <id | path/to/<id>.sql.gz> [options]

  --storage URL        where the backup id lives (default: BACKUP_STORAGE_URL, else .data/backups)
  --target-url URL     database to restore into (default: DATABASE_URL, else the local database of 'npm start')
  --target-db NAME     restore into database NAME on the same server as the default target
                       (handy with the embedded server, whose URL and password are generated)
  --create             create the target database first (fresh mode; refuses one that exists);
                       a restore that fails or is declined drops it again
  --mode MODE          fresh (default: empty database) | replace (backed-up schemas replaced) |
                       data-only (with --tables: empty and reload those tables only)
  --tables a,b         tables for data-only / --into-schema (name, schema.name, or
                       SQL-quoted: "my schema"."a,b")
  --into-schema NAME   create NAME and restore --tables there, next to the live data
  --cascade            data-only: also reload tables whose rows reference the chosen ones;
                       replace: also drop objects outside the backup that depend on it
  --force              restore a backup taken at a newer migration than this app's
  --yes                do not ask for confirmation (required when stdin is not a terminal)
  --no-owner           leave every object owned by the restoring role (skip the backup's owners)
  --no-privileges      skip the backup's GRANT/REVOKE and default privileges
  --jobs N             fresh only: N parallel connections, NOT atomic (faster; default 1 = one transaction)
  --check-content      also re-read every restored table before COMMIT and compare it with the backup
                       (proves the server stored exactly what was sent; slower: reads all data again)
  --json               print one JSON object with the result
${IDENTITY_HELP.replace(/^ {2}--identity FILE {3}/, '  --identity FILE      ').replace(/\n {20}/, '\n                       ')}

A restore runs in ONE transaction: any error, Ctrl-C or lost connection rolls it back and leaves the
target exactly as it was. It commits only when every archive member's SHA-256 matches the manifest and
every table holds the backup's row count as the server counted it (COPY); --check-content adds the
re-read of every table's content (drills always do it).`;

const MODES = ['fresh', 'replace', 'data-only'] as const;

class Bar {
  private last = 0;
  private len = 0;
  constructor(private readonly out = process.stderr) {}
  get enabled() {
    return Boolean(this.out.isTTY);
  }
  update(p: RestoreProgress) {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const frac = p.phase === 'verifying' ? (p.totalTables ? p.tablesDone / p.totalTables : 1) : p.totalBytes ? p.bytesRead / p.totalBytes : 0;
    const w = 24;
    const f = Math.round(Math.min(1, frac) * w);
    const label = p.phase === 'loading' ? 'loading' : 'comparing with manifest';
    const line = `${label} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${p.tablesDone}/${p.totalTables} tables  ${p.rowsLoaded.toLocaleString('en-US')}/${p.totalRows.toLocaleString('en-US')} rows  ${formatBytes(p.bytesRead)}/${formatBytes(p.totalBytes)}${p.current ? `  ${p.current}` : ''}`;
    const cols = this.out.columns || 100;
    const l = printable(line).slice(0, cols - 1);
    this.out.write(`\r${l}${' '.repeat(Math.max(0, this.len - l.length))}`);
    this.len = l.length;
  }
  done() {
    if (this.enabled && this.len) this.out.write(`\r${' '.repeat(this.len)}\r`);
    this.len = 0;
  }
}

export function formatPlan(p: RestorePlan): string {
  const lines = [
    `Restore plan: backup ${p.id} (taken ${p.backupStartedAt}, migration ${p.backupMigration ?? 'none'})`,
    `  from    ${p.source}`,
    `  into    ${p.target}  (mode ${p.mode})`,
    `  objects ${p.objects} archive members, ${tableCountLabel(p.tables)}, ${p.rows.toLocaleString('en-US')} rows, ${formatBytes(p.archiveBytes)} compressed`,
    ...p.actions.map((a) => `  - ${a}`),
    ...p.warnings.map((w) => `  warning: ${w}`),
  ];
  if (p.tables.length <= 20) for (const t of p.tables) lines.push(`    ${t.schema}.${t.name}: ${t.rows.toLocaleString('en-US')} rows`);
  return lines.map(printable).join('\n');
}

/** What a restore with a manifest proved, one line (README "What a restore proves"). */
export function provedLine(contentChecked: boolean): string {
  return contentChecked
    ? 'verified: every archive member matched its SHA-256, every table its row count as the server stored it, and every table, re-read, matched the content of the backup'
    : 'verified while loading: every archive member matched its SHA-256 and every table its row count as the server stored it (COPY); content not re-read (--check-content re-reads every table)';
}

/**
 * Whether database `name` put into a URL (--target-db) comes back as `name` where the pg client
 * reads it (decodeURI of the path): `?`, `#` and `%` do not, so the restore would create one database
 * and then try to connect to another.
 */
function survivesUrl(name: string): boolean {
  try {
    return decodeURI(new URL(withDatabase('postgres://localhost/', name)).pathname.slice(1)) === name;
  } catch {
    return false;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      storage: { type: 'string' },
      'target-url': { type: 'string' },
      mode: { type: 'string' },
      tables: { type: 'string' },
      'into-schema': { type: 'string' },
      cascade: { type: 'boolean' },
      force: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      jobs: { type: 'string' },
      json: { type: 'boolean' },
      'target-db': { type: 'string' },
      identity: { type: 'string' },
      create: { type: 'boolean' },
      'no-owner': { type: 'boolean' },
      'no-privileges': { type: 'boolean' },
      'check-content': { type: 'boolean' },
    },
    USAGE,
    1,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const source = positionals[0];
  if (!source) throw new AppError('usage', `missing backup id or archive path; ${USAGE.split('\n')[0].replace(/^Usage: /, 'usage: ')}`);
  const mode = values.mode as string | undefined;
  if (mode !== undefined && !(MODES as readonly string[]).includes(mode)) throw new AppError('usage', `--mode must be fresh, replace or data-only, got ${JSON.stringify(mode)}`);
  const jobs = integerOption(values.jobs, '--jobs', 1, 16) ?? 1;
  if (jobs > 1 && ((mode && mode !== 'fresh') || values['into-schema'] !== undefined)) throw new AppError('usage', '--jobs works only with fresh restores into an empty database');
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (!values.yes && !interactive) throw new AppError('usage', 'refusing without --yes: stdin is not a terminal, so the restore plan cannot be confirmed');
  const tables = values.tables === undefined ? undefined : splitTableList(values.tables as string);
  await applyIdentityOption(values.identity as string | undefined);
  const create = Boolean(values.create);
  const checkContent = Boolean(values['check-content']);
  if (create && ((mode && mode !== 'fresh') || values['into-schema'] !== undefined)) throw new AppError('usage', '--create makes a new, empty database: only for fresh restores (no --mode replace/data-only, no --into-schema)');
  if (values['target-db'] !== undefined && values['target-url'] !== undefined) throw new AppError('usage', 'give --target-url or --target-db, not both');
  if (values['target-db'] !== undefined && !survivesUrl(values['target-db'] as string)) {
    throw new AppError('usage', `--target-db ${JSON.stringify(values['target-db'])}: PostgreSQL's client cannot reach a database whose name holds this in a URL (?, # or %); choose another name`);
  }
  // Default target: DATABASE_URL, else the local database of `npm start`.
  const target = await openCliDatabase(values['target-url'] as string | undefined, '--target-url');
  const targetUrl = values['target-db'] === undefined ? target.url : withDatabase(target.url, values['target-db'] as string);

  // A downloaded archive file needs no storage; an id is looked up in it.
  // (Loaded only then: the S3 client is a third of the command's start-up.)
  const storage: StorageBackend | undefined = isArchivePath(source) ? undefined : (await import('../../lib/storage/open-storage')).openStorage(values.storage as string | undefined);
  const json = Boolean(values.json);
  const bar = json ? undefined : new Bar();
  const ac = new AbortController();
  // First Ctrl-C/SIGTERM: abort (rollback, then exit 1). A second one exits at once: the server
  // still aborts the open transaction when the connection drops.
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(jobs > 1 ? '\ninterrupted: stopping…\n' : '\ninterrupted: rolling back…\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const confirm = async (plan: RestorePlan): Promise<boolean> => {
    bar?.done();
    if (!json || !values.yes) process.stderr.write(`${formatPlan(plan)}\n`);
    if (values.yes) return true;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const a = await rl.question(`Restore into ${plan.target}${plan.mode === 'replace' ? ' (REPLACES the backed-up schemas)' : ''}? [y/N] `);
      return /^y(es)?$/i.test(a.trim());
    } finally {
      rl.close();
    }
  };
  let created = false;
  try {
    if (create) {
      await createDatabase(targetUrl);
      created = true;
    }
    let r: RestoreResult;
    if (jobs > 1) {
      r = await restoreParallel({ source, storage, targetUrl, jobs, force: Boolean(values.force), noOwner: Boolean(values['no-owner']), noPrivileges: Boolean(values['no-privileges']), checkContent, confirm, onProgress: bar ? (p) => bar.update(p) : undefined, signal: ac.signal });
    } else {
      r = await restoreBackup({
        source,
        storage,
        targetUrl,
        mode: mode as (typeof MODES)[number] | undefined,
        tables,
        intoSchema: values['into-schema'] as string | undefined,
        cascade: Boolean(values.cascade),
        force: Boolean(values.force),
        noOwner: Boolean(values['no-owner']),
        noPrivileges: Boolean(values['no-privileges']),
        checkContent,
        confirm,
        onProgress: bar ? (p) => bar.update(p) : undefined,
        signal: ac.signal,
      });
    }
    bar?.done();
    const atomic = jobs === 1;
    if (json) {
      process.stdout.write(`${printableJson({ ok: true, id: r.id, mode: r.mode, target: r.target, committed: true, atomic, checked: r.checked, tables: r.tables, rows: r.rows, binaryRows: r.binaryRows ?? 0, durationMs: r.durationMs, warnings: [...r.plan.warnings, ...r.warnings] })}\n`);
    } else {
      const out = [`restore of backup ${r.id} into ${r.target} (${r.mode}) ${atomic ? 'ran in one transaction: committed' : `ran on ${jobs} connections (not atomic): completed`} in ${formatDuration(r.durationMs)}`];
      for (const t of r.tables) {
        if (Number.isNaN(t.expectedRows)) {
          out.push(`  -    ${t.name}: ${t.rows.toLocaleString('en-US')} rows loaded (no manifest: not checked)`);
          continue;
        }
        out.push(`  ${t.rows === t.expectedRows && t.contentMatches !== false ? 'ok  ' : 'DIFF'} ${t.schema}.${t.name}: ${t.rows.toLocaleString('en-US')}/${t.expectedRows.toLocaleString('en-US')} rows${t.contentMatches === null ? '' : `, content ${t.contentMatches ? 'matches the backup' : 'DIFFERS'}`}`);
      }
      out.push(r.plan.backupStartedAt === 'unknown' ? `${tableCountLabel(r.tables)}, ${r.rows.toLocaleString('en-US')} rows loaded without a manifest: nothing was verified` : `${tableCountLabel(r.tables)}, ${r.rows.toLocaleString('en-US')} rows match the manifest`);
      if (r.checked.rowCounts) out.push(provedLine(r.checked.content));
      for (const w of [...r.plan.warnings, ...r.warnings]) out.push(`warning: ${w}`);
      process.stdout.write(printableLines(out));
    }
    return 0;
  } catch (err) {
    bar?.done();
    const e = toAppError(err);
    const d = e.details as { rolledBack?: boolean; phase?: string } | undefined;
    let state = d?.phase === 'transaction' || e.code === 'usage' || /nothing was changed|target unchanged/.test(e.message) ? '' : ' — nothing was changed';
    // The database --create made must not stay behind half-filled (or empty after a "no"); the
    // message then says it is gone, not that it is partly restored.
    if (created) {
      const dropped = await dropDatabase(targetUrl).then(
        () => ' — the database --create made was dropped again',
        (dropErr: unknown) => ` — the database --create made could not be dropped (${oneLine(toAppError(dropErr).message)}): drop it before retrying`,
      );
      if (e.message.endsWith(PARTLY_RESTORED)) {
        e.message = e.message.slice(0, -PARTLY_RESTORED.length);
        state = dropped;
      } else if (!e.message.includes('target unchanged')) state = dropped;
    }
    if (json) process.stdout.write(`${printableJson({ ok: false, code: e.code, error: oneLine(e.message) + state, rolledBack: d?.rolledBack ?? false })}\n`);
    throw new AppError(e.code, `${oneLine(e.message)}${state}`, { cause: err, details: e.details });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await storage?.close();
    await target.close();
  }
}
