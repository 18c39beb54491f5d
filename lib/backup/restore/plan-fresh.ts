import { AppError } from '../../errors';
import { createdSchemas, loadPlan, wholeBackupActions } from './plan-base';
import type { LoadPlan, PlanContext } from './restore-types';
import { planSecurity } from './security-preflight';
import { freshConflicts } from './target-catalog';

/**
 * Fresh restore into a database whose backed-up schemas are empty: refuses a target with a relation,
 * function or type in those schemas or a schema the backup creates (other schemas, such as a new
 * Supabase project's auth/storage/extensions, are no conflict); checks roles and dependencies
 * outside the schemas (security-preflight.ts); then every member runs in archive order.
 */
export async function planFresh(ctx: PlanContext, emptyHint = 'fresh mode needs an empty database (use --mode replace to overwrite the backed-up schemas)'): Promise<LoadPlan> {
  const m = ctx.manifest;
  const c = await freshConflicts(ctx.client, m.source.schemas, createdSchemas(m));
  if (c.total > 0) {
    throw new AppError('conflict', `target ${ctx.target} is not empty: it has ${c.sample.join(', ')}${c.total > c.sample.length ? ` and ${c.total - c.sample.length} more` : ''}; ${emptyHint}`);
  }
  const sec = await planSecurity(ctx.client, m, ctx.target, wholeBackupActions(m), ctx.opts);
  return loadPlan(ctx, sec.tables, sec.actions, sec.lines);
}
