import { AppError } from '../../errors';
import { quoteIdent, quoteLiteral } from '../catalog/quote-ident';
import { createdSchemas, loadPlan, wholeBackupActions } from './plan-base';
import type { LoadPlan, PlanContext } from './restore-types';
import { planSecurity } from './security-preflight';
import { dropSchemaContents, outsideDependents, schemaExists } from './target-catalog';

/**
 * Replace: the backed-up schemas are emptied (a schema the archive creates is dropped with CASCADE,
 * one it does not create — public — loses every non-extension object) and recreated from the backup.
 * Objects outside them that depend on them are refused unless `cascade`.
 */
export async function planReplace(ctx: PlanContext): Promise<LoadPlan> {
  const m = ctx.manifest;
  const schemas = m.source.schemas;
  const created = createdSchemas(m);
  // Triggers on tables outside the schemas that the backup recreates (Supabase's on auth.users).
  const outsideTriggers = m.entries
    .filter((e) => e.kind === 'TRIGGER' && e.schema !== null && e.table !== undefined && !schemas.includes(e.schema))
    .map((e) => ({ schema: e.schema!, table: e.table!, name: e.name }));
  const deps = await outsideDependents(ctx.client, schemas, outsideTriggers);
  if (deps.length && !ctx.opts.cascade) {
    throw new AppError('conflict', `objects outside the backed-up schemas (${schemas.join(', ')}) depend on them and would be dropped: ${deps.slice(0, 3).join('; ')}${deps.length > 3 ? ` (+${deps.length - 3} more)` : ''}; pass --cascade to drop them too`);
  }
  const lines = schemas.map((s) => (created.includes(s) ? `drop schema ${s} (CASCADE) and recreate it from the backup` : `drop every object of schema ${s} except extensions, then recreate them from the backup`));
  if (deps.length) lines.push(`also drop ${deps.length} dependent object(s) outside the backup (--cascade)`);
  const wide = await databaseWideInTarget(ctx.client, m);
  if (wide.names.length) lines.push(`drop the database-wide objects the backup recreates: ${wide.names.join(', ')}${wide.mappings.length ? ` (user mappings' options are kept: a backup never holds them)` : ''}`);
  const sec = await planSecurity(ctx.client, m, ctx.target, wholeBackupActions(m), ctx.opts);
  lines.push(...sec.lines);
  return loadPlan(ctx, sec.tables, sec.actions, lines, {
    async prepare(client) {
      // Event triggers first: one of the target's could refuse the DROP SCHEMA below.
      for (const stmt of wide.dropsFirst) await client.query(stmt);
      for (const s of schemas) {
        if (created.includes(s)) {
          await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`);
        } else if (await schemaExists(client, s)) {
          for (const stmt of await dropSchemaContents(client, s)) await client.query(stmt);
        } else {
          await client.query(`CREATE SCHEMA ${quoteIdent(s)}`);
        }
      }
      for (const stmt of wide.drops) await client.query(stmt);
    },
    async finish(client) {
      // The mappings' options (passwords) as the target had them, on the mappings the backup recreated.
      for (const u of wide.mappings) {
        const exists = await client.query(`SELECT 1 FROM pg_catalog.pg_user_mappings WHERE srvname = $1 AND usename = $2`, [u.server, u.user]);
        if (exists.rowCount && u.options.length) {
          const opts = u.options.map((o) => {
            const i = o.indexOf('=');
            return `ADD ${quoteIdent(o.slice(0, i))} ${quoteLiteral(o.slice(i + 1))}`;
          });
          await client.query(`ALTER USER MAPPING FOR ${u.user === 'public' ? 'PUBLIC' : quoteIdent(u.user)} SERVER ${quoteIdent(u.server)} OPTIONS (${opts.join(', ')})`);
        }
      }
    },
  });
}

/**
 * Database-wide objects of the backup that the target already has and that dropping the schemas
 * does not remove (an access method with a built-in handler, a foreign data wrapper, its servers
 * and user mappings, an event trigger whose function is elsewhere, large objects): each would
 * fail the restore ('already exists'). Replace drops them (RESTRICT: one that something outside
 * the backup still uses fails the restore, rolled back, naming it) so the backup's are created;
 * a user mapping's options are read first and put back on the recreated mapping.
 */
async function databaseWideInTarget(client: PlanContext['client'], m: PlanContext['manifest']): Promise<{ names: string[]; dropsFirst: string[]; drops: string[]; mappings: { server: string; user: string; options: string[] }[] }> {
  const of = (kind: string) => m.entries.filter((e) => e.kind === kind && e.schema === null).map((e) => e.name);
  const servers = of('SERVER');
  const r = await client.query<{ kind: string; name: string }>(
    `SELECT 'event trigger' AS kind, evtname AS name FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1::text[])
     UNION ALL SELECT 'server', srvname FROM pg_catalog.pg_foreign_server WHERE srvname = ANY($2::text[])
     UNION ALL SELECT 'foreign data wrapper', fdwname FROM pg_catalog.pg_foreign_data_wrapper WHERE fdwname = ANY($3::text[])
     UNION ALL SELECT 'access method', amname FROM pg_catalog.pg_am WHERE amname = ANY($4::text[])`,
    [of('EVENT TRIGGER'), servers, of('FOREIGN DATA WRAPPER'), of('ACCESS METHOD')],
  );
  const mappings = (
    await client.query<{ server: string; user: string; options: string[] | null }>(
      `SELECT srvname AS server, usename AS user, umoptions::text[] AS options FROM pg_catalog.pg_user_mappings WHERE srvname = ANY($1::text[]) ORDER BY 1, 2`,
      [servers],
    )
  ).rows.map((u) => ({ ...u, options: u.options ?? [] }));
  const los = (m.largeObjects ?? []).map((l) => l.oid).filter((oid) => Number.isSafeInteger(oid) && oid > 0);
  const existingLos = los.length
    ? (await client.query<{ oid: string }>(`SELECT oid::text FROM pg_catalog.pg_largeobject_metadata WHERE oid = ANY($1::pg_catalog.oid[]) ORDER BY oid`, [los])).rows.map((x) => x.oid)
    : [];
  const named = (k: string) => r.rows.filter((x) => x.kind === k).map((x) => x.name);
  // IF EXISTS: dropping the schemas may have dropped some already (a handler or function in them).
  const dropsFirst = named('event trigger').map((n) => `DROP EVENT TRIGGER IF EXISTS ${quoteIdent(n)}`);
  const drops = [
    ...mappings.map((u) => `DROP USER MAPPING IF EXISTS FOR ${u.user === 'public' ? 'PUBLIC' : quoteIdent(u.user)} SERVER ${quoteIdent(u.server)}`),
    ...named('server').map((n) => `DROP SERVER IF EXISTS ${quoteIdent(n)}`),
    ...named('foreign data wrapper').map((n) => `DROP FOREIGN DATA WRAPPER IF EXISTS ${quoteIdent(n)}`),
    ...named('access method').map((n) => `DROP ACCESS METHOD IF EXISTS ${quoteIdent(n)}`),
    ...existingLos.map((oid) => `SELECT pg_catalog.lo_unlink(${oid})`),
  ];
  const names = [...r.rows.map((x) => `${x.kind} ${quoteIdent(x.name)}`), ...(existingLos.length ? [`${existingLos.length} large object(s)`] : [])];
  return { names, dropsFirst, drops, mappings };
}
