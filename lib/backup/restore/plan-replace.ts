import { AppError } from '../../errors';
import { quoteIdent } from '../catalog/quote-ident';
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
  const deps = await outsideDependents(ctx.client, schemas);
  if (deps.length && !ctx.opts.cascade) {
    throw new AppError('conflict', `objects outside the backed-up schemas (${schemas.join(', ')}) depend on them and would be dropped: ${deps.slice(0, 3).join('; ')}${deps.length > 3 ? ` (+${deps.length - 3} more)` : ''}; pass --cascade to drop them too`);
  }
  const lines = schemas.map((s) => (created.includes(s) ? `drop schema ${s} (CASCADE) and recreate it from the backup` : `drop every object of schema ${s} except extensions, then recreate them from the backup`));
  if (deps.length) lines.push(`also drop ${deps.length} dependent object(s) outside the backup (--cascade)`);
  const sec = await planSecurity(ctx.client, m, ctx.target, wholeBackupActions(m), ctx.opts);
  lines.push(...sec.lines);
  return loadPlan(ctx, sec.tables, sec.actions, lines, {
    async prepare(client) {
      for (const s of schemas) {
        if (created.includes(s)) {
          await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`);
        } else if (await schemaExists(client, s)) {
          for (const stmt of await dropSchemaContents(client, s)) await client.query(stmt);
        } else {
          await client.query(`CREATE SCHEMA ${quoteIdent(s)}`);
        }
      }
    },
  });
}
