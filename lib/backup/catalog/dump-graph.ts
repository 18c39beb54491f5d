import type { DumpObject } from './dump-object';
import type { DumpNode } from './order-objects';
import { quoteLiteral } from './quote-ident';
import type { Catalog, ColumnRow, RelRow, SequenceRow } from './read-catalog';
import { catalogKey } from './kinds/kind-types';

/**
 * The dependency graph the schema dumper builds, one object kind at a time (kinds/*.ts), before
 * order-objects.ts orders it. Holds the catalog, the nodes, which node creates which catalog object,
 * and the lookups several kinds share.
 */

/**
 * Sort priority within a section, after pg_dump's pg_dump_sort.c: ties in the dependency order are
 * broken by this, then by schema and name, so the output is stable run to run.
 */
const PRIORITY: Record<string, number> = {
  SCHEMA: 1,
  EXTENSION: 5,
  TYPE: 6,
  DOMAIN: 6,
  FUNCTION: 8,
  PROCEDURE: 8,
  AGGREGATE: 9,
  SEQUENCE: 20,
  TABLE: 20,
  VIEW: 20,
  'MATERIALIZED VIEW': 20,
  'TABLE ATTACH': 21,
  DEFAULT: 23,
  'SEQUENCE OWNED BY': 24,
  CONSTRAINT: 30,
  'CHECK CONSTRAINT': 30,
  INDEX: 31,
  'INDEX ATTACH': 32,
  STATISTICS: 33,
  RULE: 34,
  TRIGGER: 35,
  'FK CONSTRAINT': 36,
  'ROW SECURITY': 37,
  POLICY: 37,
  'MATERIALIZED VIEW DATA': 99,
};

export class DumpGraph {
  readonly nodes: DumpNode[] = [];
  /** catalog object ("classid:oid") -> the node whose SQL creates it */
  readonly owner = new Map<string, DumpNode>();
  readonly relByOid: Map<number, RelRow>;
  readonly seqByOid: Map<number, SequenceRow>;
  /** Columns (and composite types' attributes) by relation oid, in attnum order. */
  readonly colsByRel: Map<number, ColumnRow[]>;

  constructor(readonly cat: Catalog) {
    this.relByOid = new Map(cat.rels.map((r) => [r.oid, r]));
    this.seqByOid = new Map(cat.sequences.map((s) => [s.oid, s]));
    this.colsByRel = groupBy(cat.columns, (c) => c.attrelid);
  }

  /** Adds a node; `catalogKeys` ("classid:oid") are the catalog objects its SQL creates. */
  add(obj: DumpObject, ...catalogKeys: string[]): DumpNode {
    const node: DumpNode = { obj, priority: PRIORITY[obj.kind] ?? 50, deps: new Set(), comments: [], id: this.nodes.length };
    this.nodes.push(node);
    for (const k of catalogKeys) this.owner.set(k, node);
    return node;
  }

  /** Adds `COMMENT ON <target> IS ...` after the node when the catalog object has a comment. */
  comment(node: DumpNode, target: string, classid: number, oid: number, subid = 0): void {
    const text = this.cat.comments.get(`${classid}:${oid}:${subid}`);
    if (text === undefined) return;
    node.comments.push({
      section: node.obj.section,
      kind: 'COMMENT',
      schema: node.obj.schema,
      name: target,
      table: node.obj.table,
      sql: `COMMENT ON ${target} IS ${quoteLiteral(text)};\n`,
    });
  }

  /** The object is a member of an extension (never dumped itself). */
  isMember(classid: number, oid: number): boolean {
    return this.cat.extMembers.has(catalogKey(classid, oid));
  }

  nodeFor(classid: number, oid: number): DumpNode | undefined {
    return this.owner.get(catalogKey(classid, oid));
  }
}

export function groupBy<T, K>(xs: T[], f: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = f(x);
    const a = m.get(k);
    if (a) a.push(x);
    else m.set(k, [x]);
  }
  return m;
}
