// Snapshots of one operator subtask's state (keyed + operator state) as bytes, and their way to and from file
// storage. Encoding: v8.serialize (the structured-clone wire format), because state values are the same
// structured-clone values records are (bigint, Map, undefined survive; JSON would not). Measured on 100k keyed
// entries in 128 groups: v8 1.75 MB, encode 12 ms, decode 32 ms; JSON 1.77 MB, 12 ms, 23 ms — no reason to
// lose types for it. The blob is written first; the OperatorSubtaskState that points at it goes into the ack.
import { deserialize, serialize } from "node:v8";
import { CorruptRecordError, InvalidArgumentError } from "../common/errors.ts";
import type { OperatorSubtaskState } from "../generated/records.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import { DEFAULT_MAX_PARALLELISM, keyGroupRange } from "./key-groups.ts";
import { KeyedStateBackend, type KeyGroupEntries } from "./keyed-state.ts";
import { OperatorStateStore, type Redistribution } from "./operator-state.ts";

const FORMAT = "vigil-operator-state";
const VERSION = 1;
/** FileBlobStore kind (part of the blob's file name). */
export const STATE_BLOB_KIND = "state";

interface EncodedState {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly maxParallelism: number;
  readonly keyed: [keyGroup: number, entries: KeyGroupEntries][];
  readonly operator: [name: string, redistribution: Redistribution, items: unknown[]][];
}

/**
 * The bytes of an operator subtask's state, or undefined when it holds none (no keyed entries, no declared
 * list). Synchronous: the bytes are the consistent copy; the operator may go on changing its state at once.
 */
export function encodeState(keyed: KeyedStateBackend, operator: OperatorStateStore): Uint8Array | undefined {
  const keyedEntries = [...keyed.entries()];
  if (keyedEntries.length === 0 && operator.size === 0) return undefined;
  const encoded: EncodedState = {
    format: FORMAT,
    version: VERSION,
    maxParallelism: keyed.maxParallelism,
    keyed: keyedEntries,
    operator: [...operator.entries()].map(([name, list]) => [name, list.redistribution, list.items]),
  };
  return serialize(encoded);
}

/** Decodes bytes written by encodeState; CorruptRecordError names `where` (the blob URI). */
export function decodeState(bytes: Uint8Array, where: string): EncodedState {
  let value: unknown;
  try {
    value = deserialize(bytes);
  } catch (e: unknown) {
    throw new CorruptRecordError(where, "operator state is not in the v8 serialization format", e);
  }
  const v = value as Partial<EncodedState> | null;
  if (typeof v !== "object" || v === null || v.format !== FORMAT) {
    throw new CorruptRecordError(where, `not an operator state snapshot (format ${FORMAT} expected)`);
  }
  if (v.version !== VERSION) {
    throw new CorruptRecordError(
      where,
      `operator state version ${String(v.version)} is not supported (this build reads version ${VERSION})`,
    );
  }
  if (!Array.isArray(v.keyed) || !Array.isArray(v.operator) || typeof v.maxParallelism !== "number") {
    throw new CorruptRecordError(where, "operator state snapshot is missing keyed / operator sections");
  }
  return v as EncodedState;
}

/** Writes the state blob (if any) and returns the pointer for the checkpoint ack. */
export async function writeOperatorState(
  blobs: FileBlobStore,
  operatorUid: string,
  subtask: number,
  parallelism: number,
  bytes: Uint8Array | undefined,
): Promise<OperatorSubtaskState> {
  const state: OperatorSubtaskState = { operatorUid, subtask, parallelism };
  if (bytes !== undefined) state.state = await blobs.put(STATE_BLOB_KIND, bytes);
  return state;
}

export interface StateTarget {
  readonly operatorUid: string;
  readonly subtask: number;
  readonly parallelism: number;
  readonly maxParallelism?: number;
}

export interface RestoredOperatorState {
  readonly keyed: KeyedStateBackend;
  readonly operator: OperatorStateStore;
  /** False when no state of this operator was given (a fresh start, or an operator new to a savepoint). */
  readonly restored: boolean;
  /** The parallelism the state was written with (undefined when not restored). */
  readonly previousParallelism: number | undefined;
}

/**
 * Builds a subtask's state stores from the snapshots of its operator (`states`: every entry for this operator
 * uid). With the snapshot's parallelism equal to the current one, the entry of the same subtask is used (others
 * may be passed and are ignored). Otherwise (rescaling) `states` must hold every old subtask's entry: the key
 * groups this subtask owns are taken from all of them, and operator lists are redistributed (round-robin or
 * union). Unreadable state is an error, never skipped: recovery is strict.
 */
export async function restoreOperatorState(
  blobs: FileBlobStore,
  states: readonly OperatorSubtaskState[],
  target: StateTarget,
): Promise<RestoredOperatorState> {
  const maxParallelism = target.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
  const keyed = new KeyedStateBackend(
    target.parallelism <= maxParallelism
      ? keyGroupRange(target.subtask, target.parallelism, maxParallelism)
      : undefined,
    maxParallelism,
  );
  const operator = new OperatorStateStore();
  if (states.length === 0) return { keyed, operator, restored: false, previousParallelism: undefined };
  const where = `restore of operator ${target.operatorUid} subtask ${target.subtask}`;
  const previous = states[0]!.parallelism;
  const bySubtask = new Map<number, OperatorSubtaskState>();
  for (const s of states) {
    if (s.operatorUid !== target.operatorUid) {
      throw new InvalidArgumentError(`${where}: got the state of operator ${s.operatorUid}`);
    }
    if (s.parallelism !== previous || s.subtask >= previous || bySubtask.has(s.subtask)) {
      throw new InvalidArgumentError(
        `${where}: inconsistent snapshot entries (subtask ${s.subtask} of parallelism ${s.parallelism}, ` +
          `first entry of parallelism ${previous}); pass one entry per old subtask`,
      );
    }
    bySubtask.set(s.subtask, s);
  }
  let sources: OperatorSubtaskState[];
  if (previous === target.parallelism) {
    const own = bySubtask.get(target.subtask);
    if (own === undefined)
      throw new InvalidArgumentError(`${where}: the state of subtask ${target.subtask} is missing`);
    sources = [own];
  } else {
    sources = [];
    for (let i = 0; i < previous; i++) {
      const s = bySubtask.get(i);
      if (s === undefined) {
        throw new InvalidArgumentError(
          `${where}: rescaling from parallelism ${previous} to ${target.parallelism} needs the state of every old subtask; subtask ${i} is missing`,
        );
      }
      sources.push(s);
    }
  }
  const lists = new Map<string, { redistribution: Redistribution; items: unknown[] }>();
  for (const source of sources) {
    if (source.state === undefined) continue;
    const decoded = decodeState(await blobs.get(source.state), source.state.uri);
    if (decoded.maxParallelism !== maxParallelism) {
      throw new InvalidArgumentError(
        `${where}: the snapshot has max parallelism ${decoded.maxParallelism}, the job ${maxParallelism}; it cannot change across a restore`,
      );
    }
    for (const [group, entries] of decoded.keyed) keyed.restoreGroup(group, entries);
    for (const [name, redistribution, items] of decoded.operator) {
      const list = lists.get(name);
      if (list === undefined) lists.set(name, { redistribution, items: [...items] });
      else list.items.push(...items);
    }
  }
  for (const [name, { redistribution, items }] of lists) {
    const mine =
      previous === target.parallelism || redistribution === "union"
        ? items
        : items.filter((_, i) => i % target.parallelism === target.subtask);
    operator.restoreList(name, redistribution, mine);
  }
  return { keyed, operator, restored: true, previousParallelism: previous };
}
