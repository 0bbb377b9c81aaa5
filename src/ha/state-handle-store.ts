// The one small backend-specific store that every HA store is built on (Flink's StateHandleStore).
// Keys are relative to the cluster namespace ("jobgraphs/j1"); the backend maps them to its own layout
// (etcd key /vigil/<cluster>/jobgraphs/j1, znode of the same path). Values are opaque bytes.
//
// Every write takes the writer's LeaderSession as fence: the backend checks session.assertLeader() first,
// then makes the write one atomic operation with a check that the session's campaign key / latch node still
// exists with its epoch (etcd: Compare(CreateRevision(electionKey) == epoch); ZooKeeper: multi([check(latch),
// …])). A deposed leader's write never lands: it fails with StaleFenceError (the backend refused it) or
// LeadershipLostError (refused locally, nothing was sent).
//
// Errors common to every method: BackendUnavailableError (nothing sent, or a read failed),
// PossiblyInconsistentStateError (a write was sent and its outcome is unknown), RecordTooLargeError (refused
// before sending).
import { RecordTooLargeError } from "../common/errors.ts";
import type { LeaderSession } from "./leader-session.ts";

export interface StoredEntry {
  /** Relative key, as given to the store. */
  readonly key: string;
  readonly value: Uint8Array;
  /** Opaque; equal versions mean the same write. Pass it back to replace/remove for compare-and-set. */
  readonly version: bigint;
}

export type StoreChange =
  | { readonly kind: "put"; readonly key: string }
  | { readonly kind: "delete"; readonly key: string }
  /** Changes may have been missed (reconnect, compaction, new session): list the directory again. */
  | { readonly kind: "resync" };

export interface StoreWatch {
  /** Stops the watch. Idempotent. */
  close(): Promise<void>;
}

export interface StateHandleStore {
  /** Largest value the backend accepts for one key; larger values are refused before sending. */
  readonly maxValueBytes: number;
  /** The entry, or undefined when the key does not exist. */
  get(key: string): Promise<StoredEntry | undefined>;
  /** Direct children of `dir` (no deeper keys), sorted by key; [] when the directory is absent. */
  list(dir: string): Promise<StoredEntry[]>;
  /** Creates the key; AlreadyExistsError when it exists. Returns the new version. */
  create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint>;
  /** Replaces the value when the version matches; NotFoundError / VersionConflictError otherwise. */
  replace(key: string, value: Uint8Array, expectedVersion: bigint, fence: LeaderSession): Promise<bigint>;
  /**
   * Deletes the key. With `expectedVersion`, only when it matches (VersionConflictError). Returns false when
   * the key did not exist. Parent directories that become empty may be removed by the backend.
   */
  remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean>;
  /** Reports changes of direct children of `dir` until closed. Starts with nothing; list() for the state. */
  watch(dir: string, onChange: (change: StoreChange) => void): Promise<StoreWatch>;
}

/** Refuses a value over `limit` bytes before it is sent; every backend's store calls this first. */
export function assertFits(key: string, value: Uint8Array, limit: number, backend: string): void {
  if (value.byteLength > limit) throw new RecordTooLargeError(key, value.byteLength, limit, backend);
}
