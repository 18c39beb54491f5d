import { AppError } from '../../errors';
import { createdSchemas, loadPlan, wholeBackupActions } from './plan-base';
import type { LoadPlan, PlanContext } from './restore-types';
import { freshConflicts } from './target-catalog';

/**
 * Fresh restore into an empty database: refuses a target that has any user relation, a schema the
 * backup creates, or a function/type in the backed-up schemas; then every member runs in archive order.
 */
export async function planFresh(ctx: PlanContext, emptyHint = 'fresh mode needs an empty database (use --mode replace to overwrite the backed-up schemas)'): Promise<LoadPlan> {
  const m = ctx.manifest;
  const c = await freshConflicts(ctx.client, m.source.schemas, createdSchemas(m));
  if (c.total > 0) {
    throw new AppError('conflict', `target ${ctx.target} is not empty: it has ${c.sample.join(', ')}${c.total > c.sample.length ? ` and ${c.total - c.sample.length} more` : ''}; ${emptyHint}`);
  }
  return loadPlan(ctx, m.tables, wholeBackupActions(m), []);
}
