// Keyed state on the heap: one ValueState per (state name, key), stored per key group so a snapshot can be
// split by group and a rescaled restore can take only the groups a subtask owns. The operator sets the current
// key (from its key selector) before touching state, as Flink's keyed operators do; values are kept by
// reference until the snapshot copies them, so an operator must update() after changing a stored object.
import { InvalidArgumentError } from "../common/errors.ts";
import {
  canonicalKey,
  DEFAULT_MAX_PARALLELISM,
  inRange,
  type KeyGroupRange,
  keyGroupOfCanonical,
} from "./key-groups.ts";

/** The value of one named state for the current key. */
export interface ValueState<T> {
  /** The value, or undefined when none was stored for the current key. */
  value(): T | undefined;
  /** Stores `value` for the current key (undefined clears it). */
  update(value: T | undefined): void;
  clear(): void;
}

/** One key group's entries: state name → canonical key → value. */
export type KeyGroupEntries = Map<string, Map<string, unknown>>;

export class KeyedStateBackend {
  readonly range: KeyGroupRange;
  /** Index: keyGroup − range.start. */
  private readonly groups: (KeyGroupEntries | undefined)[];
  private readonly states = new Map<string, ValueState<unknown>>();
  private key: unknown;
  private canonical: string | undefined;
  private group = -1;

  /**
   * @param range the key groups this subtask owns; undefined for an operator whose parallelism exceeds the max
   *   parallelism: it cannot be keyed, and setCurrentKey says so.
   */
  constructor(
    range: KeyGroupRange | undefined,
    readonly maxParallelism = DEFAULT_MAX_PARALLELISM,
  ) {
    this.range = range ?? { start: 0, end: -1 };
    this.groups = new Array<KeyGroupEntries | undefined>(this.range.end - this.range.start + 1);
  }

  /** Sets the key later state accesses refer to; refuses a key of a group this subtask does not own. */
  setCurrentKey(key: unknown): void {
    if (this.groups.length === 0) {
      throw new InvalidArgumentError(
        `keyed state needs a parallelism of at most the max parallelism ${this.maxParallelism}; lower the keyed operator's parallelism`,
      );
    }
    const canonical = canonicalKey(key);
    const group = keyGroupOfCanonical(canonical, this.maxParallelism);
    if (!inRange(this.range, group)) {
      throw new InvalidArgumentError(
        `key ${canonical.slice(1)} belongs to key group ${group}, which this subtask does not own ` +
          `(it owns ${this.range.start}..${this.range.end}); the upstream hash partitioner and this operator ` +
          "disagree on the key: the key selector must be deterministic and the edge must be a hash (keyBy) edge",
      );
    }
    this.key = key;
    this.canonical = canonical;
    this.group = group;
  }

  /** The current key (as the key selector returned it). */
  get currentKey(): unknown {
    return this.key;
  }

  /** The ValueState named `name`, scoped to whatever key is current when it is used. */
  state<T>(name: string): ValueState<T> {
    let state = this.states.get(name);
    if (state === undefined) {
      state = {
        value: () => this.current(name, false)?.get(this.currentCanonical()),
        update: (value) => {
          if (value === undefined) this.current(name, false)?.delete(this.currentCanonical());
          else this.current(name, true)!.set(this.currentCanonical(), value);
        },
        clear: () => {
          this.current(name, false)?.delete(this.currentCanonical());
        },
      };
      this.states.set(name, state);
    }
    return state as ValueState<T>;
  }

  /** Non-empty key groups in ascending order, for the snapshot. */
  *entries(): Generator<[keyGroup: number, entries: KeyGroupEntries]> {
    for (let i = 0; i < this.groups.length; i++) {
      const group = this.groups[i];
      if (group === undefined) continue;
      let empty = true;
      for (const values of group.values()) if (values.size > 0) empty = false;
      if (!empty) yield [this.range.start + i, group];
    }
  }

  /** Adds restored entries of one key group (ignored unless this subtask owns the group). */
  restoreGroup(
    keyGroup: number,
    entries: Iterable<[name: string, values: Iterable<[string, unknown]>]>,
  ): void {
    if (!inRange(this.range, keyGroup)) return;
    let group = this.groups[keyGroup - this.range.start];
    if (group === undefined) {
      group = new Map();
      this.groups[keyGroup - this.range.start] = group;
    }
    for (const [name, values] of entries) {
      let table = group.get(name);
      if (table === undefined) {
        table = new Map();
        group.set(name, table);
      }
      for (const [key, value] of values) table.set(key, value);
    }
  }

  private currentCanonical(): string {
    if (this.canonical === undefined) {
      throw new InvalidArgumentError("keyed state used before a key was set (setCurrentKey)");
    }
    return this.canonical;
  }

  private current(name: string, create: boolean): Map<string, unknown> | undefined {
    this.currentCanonical();
    const index = this.group - this.range.start;
    let group = this.groups[index];
    if (group === undefined) {
      if (!create) return undefined;
      group = new Map();
      this.groups[index] = group;
    }
    let table = group.get(name);
    if (table === undefined && create) {
      table = new Map();
      group.set(name, table);
    }
    return table;
  }
}
