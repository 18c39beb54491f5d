import type { Manifest, ManifestEntry, ManifestTable } from '../manifest';
import type { LoadPlan, MemberAction, PlanContext, RestorePlan } from './restore-types';

/** Key of a table in maps: schema and name joined by NUL (which no name holds). */
export function tkey(schema: string | null, name: string): string {
  return `${schema}\u0000${name}`;
}

/** The manifest's tables by tkey. */
export function tablesByKey(m: Manifest): Map<string, ManifestTable> {
  return new Map(m.tables.map((t) => [tkey(t.schema, t.name), t]));
}

/** Schemas the archive creates (the others, like public, exist already). */
export function createdSchemas(m: Manifest): string[] {
  return m.entries.filter((e) => e.kind === 'SCHEMA').map((e) => e.name);
}

/** The table a table-data member belongs to. */
export function tableOfEntry(byKey: Map<string, ManifestTable>, e: ManifestEntry): ManifestTable | undefined {
  return byKey.get(tkey(e.schema, e.name));
}

/** Whole-backup actions (fresh, replace, parallel): every SQL member runs, every table loads. */
export function wholeBackupActions(m: Manifest): MemberAction[] {
  const byKey = tablesByKey(m);
  return m.entries.map((e): MemberAction => {
    if (e.section !== 'table-data') return { kind: 'exec' };
    const table = tableOfEntry(byKey, e);
    // manifestProblems guarantees every table-data member belongs to a table; be explicit anyway.
    return table ? { kind: 'copy', table } : { kind: 'skip' };
  });
}

/** The operator-facing plan of a restore that loads `tables` by `actions`. */
export function describePlan(ctx: PlanContext, tables: ManifestTable[], actions: MemberAction[], lines: string[]): RestorePlan {
  const m = ctx.manifest;
  return {
    id: m.id,
    source: ctx.source.label,
    mode: ctx.mode,
    target: ctx.target,
    backupStartedAt: m.startedAt,
    backupMigration: m.app.migration,
    objects: actions.filter((a) => a.kind !== 'skip').length - 1, // minus the header
    tables: tables.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows })),
    rows: tables.reduce((s, t) => s + t.rows, 0),
    archiveBytes: m.archive.sizeBytes,
    actions: lines,
    warnings: ctx.warnings,
  };
}

/** A LoadPlan with nothing to do around the load unless given. */
export function loadPlan(ctx: PlanContext, tables: ManifestTable[], actions: MemberAction[], lines: string[], hooks: Partial<Pick<LoadPlan, 'prepare' | 'finish' | 'locate'>> = {}): LoadPlan {
  return {
    plan: describePlan(ctx, tables, actions, lines),
    tables,
    actions,
    prepare: hooks.prepare ?? (async () => {}),
    finish: hooks.finish ?? (async () => {}),
    locate: hooks.locate ?? (() => undefined),
  };
}
