import pg from 'pg';
import { AppError, oneLine, toAppError } from '../errors';
import { quoteIdent } from './catalog/quote-ident';
import type { ExternalDependency } from './catalog/external-deps';
import type { Manifest } from './manifest';
import { scanSql } from './sql-scan';
import { neededRoles } from './restore/security-preflight';
import { redactTarget } from './restore/preflight';
import { turnOffSessionLimits } from './session-settings';

/**
 * A connection of a drill to its server or target (AppError naming it, without credentials, when
 * that fails), with the database's and role's timeouts off and search_path '' as on the restore's
 * own connections (session-settings.ts turnOffSessionLimits): a role's statement_timeout '1s'
 * failed every drill of a big backup in its CREATE DATABASE, schema or large-object comparison.
 */
export async function connectDrillServer(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'tickethub-drill' });
  try {
    await c.connect();
  } catch (err) {
    throw toAppError(err, `cannot connect to the drill server ${redactTarget(url)}`);
  }
  c.on('error', () => {});
  try {
    await turnOffSessionLimits(c);
  } catch (err) {
    await c.end().catch(() => {});
    throw toAppError(err, `cannot prepare the session on the drill server ${redactTarget(url)}`);
  }
  return c;
}

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
  for (const d of deps) {
    const why = definitionProblem(d, m.source.schemas);
    if (why) throw new AppError('corrupt', `the drill will not recreate ${d.kind} ${d.name} from the manifest: ${why} (tampered manifest?)`);
  }
  const roles = opts.createRoles ? neededRoles(m, {}) : [];
  if (!deps.length && !roles.length) return [];
  const c = await connectDrillServer(url);
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
        // Extended protocol: the server itself refuses a second statement in the text.
        await c.query({ text: d.definition, queryMode: 'extended' } as pg.QueryConfig);
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

/** How the definition of each kind of dependency starts (what describeExternal writes). */
const DEFINITION_START: Readonly<Record<string, RegExp>> = {
  function: /^CREATE OR REPLACE FUNCTION /,
  procedure: /^CREATE OR REPLACE PROCEDURE /,
  table: /^CREATE TABLE /,
  view: /^CREATE VIEW /,
  sequence: /^CREATE SEQUENCE /,
  type: /^CREATE (?:TYPE|DOMAIN) /,
  domain: /^CREATE DOMAIN /,
};

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

/**
 * Why a dependency's recorded definition must not run (null when it may). The manifest comes from
 * storage: without a signing key anyone who can write there wrote it. A definition may only be the
 * CREATE its kind is written as, of an object named as the dependency, in the dependency's own
 * schema (not a system schema, not a backed-up one); a table's only its column list (never
 * `CREATE TABLE … AS <query>`, which would run the query) and a partitioned table's PARTITION BY. The text runs with the extended
 * protocol, so the server refuses anything after the first statement; check_function_bodies is off,
 * so a function body is stored, never run.
 */
function definitionProblem(d: ExternalDependency, backedUp: string[]): string | null {
  if (!d || typeof d.kind !== 'string' || typeof d.name !== 'string' || typeof d.schema !== 'string') return 'the entry is malformed';
  if (SYSTEM_SCHEMAS.has(d.schema) || d.schema.startsWith('pg_') || backedUp.includes(d.schema)) return `it is in schema ${d.schema}, where a dependency outside the backed-up schemas cannot be`;
  if (!d.name.startsWith(`${quoteIdent(d.schema)}.`)) return `its name is not in its schema ${d.schema}`;
  if (d.definition === undefined) return null;
  const start = Object.hasOwn(DEFINITION_START, d.kind) ? DEFINITION_START[d.kind] : undefined;
  if (!start) return `a dependency of kind ${JSON.stringify(d.kind)} is never recreated from its definition`;
  const m = typeof d.definition === 'string' ? start.exec(d.definition) : null;
  if (!m) return `its definition is not a ${d.kind} definition`;
  const name = d.kind === 'function' || d.kind === 'procedure' ? d.name.slice(0, d.name.indexOf('(') + 1) : d.name;
  const rest = d.definition.slice(m[0].length);
  if (!name || !rest.startsWith(name) || !(d.kind === 'function' || d.kind === 'procedure' || /^[\s(;]/.test(rest.slice(name.length)))) return `its definition creates something else than ${d.name}`;
  if (d.kind === 'table') {
    const paren = d.definition.indexOf('(');
    const whole = scanSql(d.definition);
    const head = scanSql(d.definition.slice(0, Math.max(0, paren)));
    // A partitioned table's key follows its columns: `PARTITION BY RANGE|LIST|HASH (…)`, nothing else.
    const words = whole.statements[0]?.words.join(' ') ?? '';
    const headWords = head.statements[0]?.words.join(' ');
    const allowed = [headWords, ...['RANGE', 'LIST', 'HASH'].map((k) => `${headWords} PARTITION BY ${k}`)];
    if (paren === -1 || whole.unterminated || whole.statements.length !== 1 || !allowed.includes(words)) return 'its definition is more than a column list';
  }
  return null;
}
