// Operator (non-keyed) state: named lists per subtask, as Flink's ListState. Each list says how it is split
// when the job is restored with another parallelism: "round-robin" deals the items of all old subtasks' lists
// out evenly (source splits), "union" gives every new subtask all of them (sink transactions, which any
// subtask may commit). With an unchanged parallelism a subtask gets back exactly its own lists.

export type Redistribution = "round-robin" | "union";

export interface ListState<T> {
  /** The items (a copy). */
  get(): T[];
  /** Replaces the items. */
  update(items: readonly T[]): void;
  add(item: T): void;
  clear(): void;
}

export interface OperatorList {
  readonly redistribution: Redistribution;
  items: unknown[];
}

export class OperatorStateStore {
  private readonly lists = new Map<string, OperatorList>();

  /** The list named `name`; `redistribution` applies to later snapshots of it. */
  list<T>(name: string, redistribution: Redistribution = "round-robin"): ListState<T> {
    let list = this.lists.get(name);
    if (list === undefined || list.redistribution !== redistribution) {
      list = { redistribution, items: list?.items ?? [] };
      this.lists.set(name, list);
    }
    const target = list;
    return {
      get: () => [...target.items] as T[],
      update: (items) => {
        target.items = [...items];
      },
      add: (item) => {
        target.items.push(item);
      },
      clear: () => {
        target.items = [];
      },
    };
  }

  /** Every declared list, also empty ones (a declared empty list is state: "nothing left"). */
  entries(): IterableIterator<[string, OperatorList]> {
    return this.lists.entries();
  }

  get size(): number {
    return this.lists.size;
  }

  /** Sets a restored list (before the operator declares it). */
  restoreList(name: string, redistribution: Redistribution, items: unknown[]): void {
    this.lists.set(name, { redistribution, items });
  }
}
