// Keyed and operator state of streaming operators, and their snapshots in file storage.
export {
  canonicalKey,
  DEFAULT_MAX_PARALLELISM,
  inRange,
  type KeyGroupRange,
  keyGroupOf,
  keyGroupOfCanonical,
  keyGroupRange,
  murmur3,
  subtaskForKeyGroup,
} from "./key-groups.ts";
export { KeyedStateBackend, type KeyGroupEntries, type ValueState } from "./keyed-state.ts";
export { type ListState, OperatorStateStore, type Redistribution } from "./operator-state.ts";
export {
  decodeState,
  encodeState,
  type RestoredOperatorState,
  restoreOperatorState,
  STATE_BLOB_KIND,
  type StateTarget,
  writeOperatorState,
} from "./snapshot.ts";
