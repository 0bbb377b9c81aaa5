// StateHandleStore on the in-memory coordinator, fenced exactly like the etcd store: one transaction that
// also compares the fence's campaign key create revision with its epoch.
import {
  AlreadyExistsError,
  NotFoundError,
  StaleFenceError,
  VersionConflictError,
} from "../../common/errors.ts";
import type { LeaderSession } from "../leader-session.ts";
import {
  assertFits,
  type StateHandleStore,
  type StoreChange,
  type StoredEntry,
  type StoreWatch,
} from "../state-handle-store.ts";
import type { MemoryCompare, MemoryCoordinator, MemoryEntry, MemoryOp } from "./coordinator.ts";

/** The memory backend accepts what etcd accepts, so that tests catch oversize records early. */
export const MEMORY_MAX_VALUE_BYTES = 1_572_864 - 65_536;

export class MemoryStateHandleStore implements StateHandleStore {
  readonly maxValueBytes = MEMORY_MAX_VALUE_BYTES;

  constructor(
    private readonly coordinator: MemoryCoordinator,
    private readonly root: string,
    private readonly reachable: () => void,
  ) {}

  async get(key: string): Promise<StoredEntry | undefined> {
    this.reachable();
    const e = this.coordinator.get(this.path(key));
    return e && this.toStored(key, e);
  }

  async list(dir: string): Promise<StoredEntry[]> {
    this.reachable();
    const prefix = this.path(dir) + "/";
    return this.coordinator
      .range(prefix)
      .filter((e) => !e.key.slice(prefix.length).includes("/"))
      .map((e) => this.toStored(e.key.slice(this.root.length + 1), e));
  }

  async create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint> {
    this.write(key, value, fence, { key: this.path(key), target: "create", equals: 0n }, [
      { type: "put", key: this.path(key), value },
    ]);
    return this.coordinator.get(this.path(key))!.modRevision;
  }

  async replace(
    key: string,
    value: Uint8Array,
    expectedVersion: bigint,
    fence: LeaderSession,
  ): Promise<bigint> {
    this.write(key, value, fence, { key: this.path(key), target: "mod", equals: expectedVersion }, [
      { type: "put", key: this.path(key), value },
    ]);
    return this.coordinator.get(this.path(key))!.modRevision;
  }

  async remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean> {
    const path = this.path(key);
    const current = this.coordinator.get(path);
    if (!current) {
      this.write(key, undefined, fence, undefined, []);
      return false;
    }
    const equals = expectedVersion ?? current!.modRevision;
    this.write(key, undefined, fence, { key: path, target: "mod", equals }, [{ type: "delete", key: path }]);
    return true;
  }

  async watch(dir: string, onChange: (change: StoreChange) => void): Promise<StoreWatch> {
    this.reachable();
    const prefix = this.path(dir) + "/";
    const stop = this.coordinator.watch(prefix, (e) => {
      const rest = e.key.slice(prefix.length);
      if (rest.includes("/")) return;
      onChange({ kind: e.type, key: e.key.slice(this.root.length + 1) });
    });
    return { close: async () => void stop() };
  }

  private write(
    key: string,
    value: Uint8Array | undefined,
    fence: LeaderSession,
    own: MemoryCompare | undefined,
    ops: MemoryOp[],
  ): void {
    if (value) assertFits(key, value, this.maxValueBytes, "memory");
    fence.assertLeader();
    this.reachable();
    const fenceCompare: MemoryCompare = { key: fence.electionKey, target: "create", equals: fence.epoch };
    if (this.coordinator.txn(own ? [fenceCompare, own] : [fenceCompare], ops)) return;
    if (this.coordinator.get(fence.electionKey)?.createRevision !== fence.epoch) {
      throw new StaleFenceError(fence.epoch, `write of ${key}`);
    }
    const actual = this.coordinator.get(own!.key);
    if (own!.target === "create") throw new AlreadyExistsError(key);
    if (!actual) throw new NotFoundError(key);
    throw new VersionConflictError(key, own!.equals, actual.modRevision);
  }

  private path(key: string): string {
    return `${this.root}/${key}`;
  }

  private toStored(key: string, e: MemoryEntry): StoredEntry {
    return { key, value: e.value, version: e.modRevision };
  }
}
