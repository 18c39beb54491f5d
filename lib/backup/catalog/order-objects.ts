import type { DumpObject } from './dump-object';

/** One entry of the dump while it is being ordered. */
export interface DumpNode {
  obj: DumpObject;
  /** pg_dump-like kind priority: the tie-break among objects whose dependencies are satisfied. */
  priority: number;
  /** Nodes that must be executed before this one. */
  deps: Set<DumpNode>;
  /** COMMENT entries printed right after the node. */
  comments: DumpObject[];
  /** Creation index: the last tie-break, so the order never depends on Set/Map iteration quirks. */
  id: number;
  /** Catalog keys to resolve into deps once every node exists. */
  pendingDeps?: string[];
  /** For MATERIALIZED VIEW DATA: the matview's node (refreshes follow the matviews they read). */
  matview?: DumpNode;
  /**
   * Set by kinds whose SQL can be split when the node is in a dependency loop (a view: placeholder
   * now, CREATE OR REPLACE VIEW later; a domain: its CHECKs later). Called with the loop's nodes:
   * it keeps in this node only what needs no loop member, and adds (and returns) a node that does
   * the rest, depending on everything this node depended on and on this node.
   */
  breakLoop?: (loop: Set<DumpNode>) => DumpNode;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The tie-break order among ready nodes: (priority, schema, name, table, creation index). */
function compareNodes(a: DumpNode, b: DumpNode): number {
  return a.priority - b.priority || cmp(a.obj.schema ?? '', b.obj.schema ?? '') || cmp(a.obj.name, b.obj.name) || cmp(a.obj.table ?? '', b.obj.table ?? '') || a.id - b.id;
}

/**
 * Orders the nodes: all pre-data, then all post-data, each a topological order of the dependency
 * graph where, among ready nodes, the lowest (priority, schema, name) goes first — pg_dump's rule,
 * so unrelated objects keep a stable, readable order.
 *
 * A pre-data object that depends on a post-data one (a view whose GROUP BY relies on a primary
 * key's functional dependency) pulls that object into pre-data: the key is then created before the
 * data, which costs load speed but never correctness. A dependency cycle (which pg_dump breaks with
 * dummy objects) is broken by emitting the lowest remaining node: execution may then fail, and the
 * backup's verification is what reports it.
 */
export function orderObjects(nodes: DumpNode[], warnings: string[] = []): DumpObject[] {
  breakLoops(nodes);
  let changed = true;
  while (changed) {
    changed = false;
    for (const n of nodes) {
      if (n.obj.section !== 'pre-data') continue;
      for (const d of n.deps) {
        if (d.obj.section === 'post-data') {
          d.obj.section = 'pre-data';
          for (const c of d.comments) c.section = 'pre-data';
          changed = true;
        }
      }
    }
  }

  const refreshes = nodes.filter((n) => n.matview);
  if (refreshes.length > 1) {
    const byMatview = new Map(refreshes.map((r) => [r.matview!, r]));
    for (const r of refreshes) {
      const seen = new Set<DumpNode>();
      const stack = [...r.matview!.deps];
      while (stack.length) {
        const d = stack.pop()!;
        if (seen.has(d)) continue;
        seen.add(d);
        const other = byMatview.get(d);
        if (other && other !== r) r.deps.add(other);
        stack.push(...d.deps);
      }
    }
  }

  const out: DumpObject[] = [];
  for (const section of ['pre-data', 'post-data'] as const) {
    for (const n of topoSort(nodes.filter((n) => n.obj.section === section), warnings)) out.push(n.obj, ...n.comments);
  }
  return out;
}

/**
 * pg_dump's loop repairs (pg_dump_sort.c): in every strongly connected component of the graph,
 * each node that can be split (`breakLoop`: views, domains with CHECKs) is split into a part that
 * depends on nothing in the component — so no loop passes through it any more — and a part created
 * later. The nodes the split adds are appended to `nodes`.
 */
export function breakLoops(nodes: DumpNode[]): void {
  for (const scc of stronglyConnected(nodes)) {
    if (scc.length < 2) continue;
    const loop = new Set(scc);
    for (const n of scc) {
      if (!n.breakLoop) continue;
      const rest = n.breakLoop(loop);
      n.breakLoop = undefined;
      const own = [...n.deps];
      n.deps = new Set(own.filter((d) => !loop.has(d)));
      for (const d of own) rest.deps.add(d);
      rest.deps.add(n);
      if (!nodes.includes(rest)) nodes.push(rest);
    }
  }
}

/** Tarjan's algorithm, iterative (a 10,000-table catalog would overflow the stack recursing). */
function stronglyConnected(nodes: DumpNode[]): DumpNode[][] {
  const index = new Map<DumpNode, number>();
  const low = new Map<DumpNode, number>();
  const onStack = new Set<DumpNode>();
  const stack: DumpNode[] = [];
  const out: DumpNode[][] = [];
  let next = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { n: DumpNode; it: Iterator<DumpNode> }[] = [];
    const visit = (n: DumpNode) => {
      index.set(n, next);
      low.set(n, next);
      next++;
      stack.push(n);
      onStack.add(n);
      work.push({ n, it: n.deps[Symbol.iterator]() });
    };
    visit(root);
    while (work.length) {
      const top = work[work.length - 1];
      const step = top.it.next();
      if (!step.done) {
        const d = step.value;
        if (!index.has(d)) visit(d);
        else if (onStack.has(d)) low.set(top.n, Math.min(low.get(top.n)!, index.get(d)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].n;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.n)!));
      }
      if (low.get(top.n) === index.get(top.n)) {
        const scc: DumpNode[] = [];
        let m: DumpNode;
        do {
          m = stack.pop()!;
          onStack.delete(m);
          scc.push(m);
        } while (m !== top.n);
        out.push(scc);
      }
    }
  }
  return out;
}

function topoSort(nodes: DumpNode[], warnings: string[]): DumpNode[] {
  // Positions in `byRank` (nodes sorted by compareNodes) stand for the nodes: the heap compares
  // numbers, not up to four strings, and the bookkeeping is in arrays, not maps (a 5,000-table
  // catalog has ~40,000 nodes).
  const byRank = [...nodes].sort(compareNodes);
  const rank = new Map<DumpNode, number>();
  byRank.forEach((n, i) => rank.set(n, i));
  const waiting = new Int32Array(byRank.length);
  const dependents: number[][] = byRank.map(() => []);
  for (let i = 0; i < byRank.length; i++) {
    let c = 0;
    for (const d of byRank[i].deps) {
      const j = rank.get(d);
      if (j === undefined || j === i) continue;
      c++;
      dependents[j].push(i);
    }
    waiting[i] = c;
  }
  const heap = new MinHeap();
  for (let i = 0; i < byRank.length; i++) if (waiting[i] === 0) heap.push(i);
  const done = new Uint8Array(byRank.length);
  let lowestNotDone = 0;
  const out: DumpNode[] = [];
  while (out.length < byRank.length) {
    let i = heap.pop();
    if (i === undefined) {
      // Cycle: release the lowest remaining node.
      while (lowestNotDone < byRank.length && done[lowestNotDone]) lowestNotDone++;
      i = lowestNotDone;
      const n = byRank[i];
      warnings.push(`dependency loop broken at ${n.obj.kind} ${n.obj.schema ? `${n.obj.schema}.` : ''}${n.obj.name}: the restore may fail there`);
    }
    if (done[i]) continue;
    done[i] = 1;
    out.push(byRank[i]);
    for (const m of dependents[i]) {
      if (--waiting[m] === 0 && !done[m]) heap.push(m);
    }
  }
  return out;
}

/** A binary min-heap of numbers (node ranks). */
class MinHeap {
  private a: number[] = [];
  push(k: number) {
    const a = this.a;
    let i = a.length;
    a.push(k);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= k) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = k;
  }
  pop(): number | undefined {
    const a = this.a;
    if (!a.length) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
