import pg from 'pg';
import { AppError, oneLine, toAppError } from '../errors';
import { quoteIdent } from './catalog/quote-ident';
import type { Manifest } from './manifest';
import { neededRoles } from './restore/security-preflight';

/**
 * Makes a drill's scratch database able to take a backup whose objects use things outside the
 * backed-up schemas (a Supabase `public` using `auth.uid()` and `auth.users`): recreates them from
 * the definitions the manifest recorded at backup time (their schemas, then types, tables and
 * views, then functions, each only when missing). Roles are cluster-wide: with `createRoles` the
 * missing ones the backup needs are created NOLOGIN; without, the restore's preflight names them.
 * Returns what it did, one line each (for the drill's report).
 */
export async function prepareDrillTarget(url: string, m: Manifest, opts: { createRoles?: boolean } = {}): Promise<string[]> {
  const deps = m.externalDependencies ?? [];
  const roles = opts.createRoles ? neededRoles(m, {}) : [];
  if (!deps.length && !roles.length) return [];
  const c = new pg.Client({ connectionString: url, application_name: 'tickethub-drill' });
  c.on('error', () => {});
  await c.connect();
  const done: string[] = [];
  try {
    for (const r of roles) {
      const exists = (await c.query(`SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1`, [r])).rowCount;
      if (exists) continue;
      try {
        await c.query(`CREATE ROLE ${quoteIdent(r)} NOLOGIN`);
        done.push(`created role ${r} (NOLOGIN, --create-roles)`);
      } catch (err) {
        // 42710: created meanwhile by someone else — what we wanted.
        if ((err as { code?: string }).code !== '42710') throw toAppError(err, `cannot create role ${r} for the drill`);
      }
    }
    await c.query(`SET check_function_bodies = off; SET search_path = ''`);
    for (const s of [...new Set(deps.map((d) => d.schema))]) await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`);
    const rank = (k: string) => (k === 'type' || k === 'domain' ? 0 : k === 'table' || k === 'sequence' ? 1 : k === 'view' ? 2 : 3);
    for (const d of [...deps].sort((a, b) => rank(a.kind) - rank(b.kind))) {
      const check =
        d.kind === 'function' || d.kind === 'procedure' ? 'to_regprocedure' : d.kind === 'type' || d.kind === 'domain' ? 'to_regtype' : 'to_regclass';
      const present = (await c.query<{ ok: boolean }>(`SELECT pg_catalog.${check}($1) IS NOT NULL AS ok`, [d.name])).rows[0].ok;
      if (present) continue;
      if (!d.definition) throw new AppError('verification_failed', `the drill cannot recreate ${d.kind} ${d.name} (used by ${d.usedBy[0]}): the manifest has no definition for it`);
      try {
        await c.query(d.definition);
      } catch (err) {
        throw new AppError('verification_failed', `the drill cannot recreate ${d.kind} ${d.name} from the manifest: ${oneLine((err as Error).message)}`, { cause: err });
      }
      done.push(`recreated ${d.kind} ${d.name} from the manifest`);
    }
    return done;
  } finally {
    await c.end().catch(() => {});
  }
}
