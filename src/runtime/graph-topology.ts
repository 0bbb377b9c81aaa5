// The shape of a JobGraph as adjacency lists: what validation and task planning walk. Edges that name unknown
// vertices are kept in the lists; validation refuses them before it asks for cycles or an order.
import type { JobEdge, JobGraph, JobVertex } from "../generated/records.ts";

export class GraphTopology {
  readonly byId = new Map<string, JobVertex>();
  private readonly inputsOf = new Map<string, JobEdge[]>();
  private readonly outputsOf = new Map<string, JobEdge[]>();

  constructor(readonly graph: JobGraph) {
    for (const v of graph.vertices) this.byId.set(v.id, v);
    for (const e of graph.edges) {
      push(this.inputsOf, e.target, e);
      push(this.outputsOf, e.source, e);
    }
  }

  inputs(id: string): readonly JobEdge[] {
    return this.inputsOf.get(id) ?? [];
  }

  outputs(id: string): readonly JobEdge[] {
    return this.outputsOf.get(id) ?? [];
  }

  vertex(id: string): JobVertex {
    const v = this.byId.get(id);
    if (v === undefined) throw new Error(`JobGraph has no vertex ${JSON.stringify(id)}`);
    return v;
  }

  /** The first cycle found (in vertex order) as ids, first id repeated last: [a, b, a]; undefined if none. */
  findCycle(): string[] | undefined {
    // Iterative DFS: a graph near the size limit can be deeper than the call stack.
    const state = new Map<string, "open" | "done">();
    for (const root of this.graph.vertices) {
      if (state.has(root.id)) continue;
      const stack: { id: string; next: number }[] = [{ id: root.id, next: 0 }];
      state.set(root.id, "open");
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const out = this.outputs(top.id);
        if (top.next >= out.length) {
          state.set(top.id, "done");
          stack.pop();
          continue;
        }
        const target = out[top.next++]!.target;
        const seen = state.get(target);
        if (seen === "open") {
          const from = stack.findIndex((frame) => frame.id === target);
          return [...stack.slice(from).map((frame) => frame.id), target];
        }
        if (seen === undefined && this.byId.has(target)) {
          state.set(target, "open");
          stack.push({ id: target, next: 0 });
        }
      }
    }
    return undefined;
  }

  /** Vertices in topological order, sources first; ties keep declaration order. Acyclic graphs only. */
  topologicalOrder(): JobVertex[] {
    const pending = new Map<string, number>();
    for (const v of this.graph.vertices) pending.set(v.id, this.inputs(v.id).length);
    const order = this.graph.vertices.filter((v) => pending.get(v.id) === 0);
    for (let i = 0; i < order.length; i++) {
      for (const e of this.outputs(order[i]!.id)) {
        const left = (pending.get(e.target) ?? 0) - 1;
        pending.set(e.target, left);
        if (left === 0) order.push(this.vertex(e.target));
      }
    }
    if (order.length !== this.graph.vertices.length) throw new Error("JobGraph has a cycle");
    return order;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
