// A StateHandleStore that reports every fenced write's outcome as an event: the chaos harness's evidence for
// invariant I1 (DESIGN.md §5). `store-write` carries the writer's epoch and, where the backend's version is its
// global commit order (etcd: the txn's header revision), that revision — so a checker can prove, by the store's
// own order, that no write committed after a newer leader was granted. `store-write-refused` shows a stale
// writer that tried and was refused. Reads pass through.
import { StaleFenceError } from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { LeaderSession } from "./leader-session.ts";
import type { StateHandleStore, StoredEntry, StoreChange, StoreWatch } from "./state-handle-store.ts";

export class ObservedStateHandleStore implements StateHandleStore {
  constructor(
    private readonly inner: StateHandleStore,
    private readonly events: EventSink,
    /** True when versions returned by create/replace are the store's global commit order (etcd). */
    private readonly versionIsRevision: boolean,
  ) {}

  get maxValueBytes(): number {
    return this.inner.maxValueBytes;
  }

  get(key: string): Promise<StoredEntry | undefined> {
    return this.inner.get(key);
  }

  list(dir: string): Promise<StoredEntry[]> {
    return this.inner.list(dir);
  }

  create(key: string, value: Uint8Array, fence: LeaderSession): Promise<bigint> {
    return this.observe(key, fence, () => this.inner.create(key, value, fence));
  }

  replace(key: string, value: Uint8Array, expectedVersion: bigint, fence: LeaderSession): Promise<bigint> {
    return this.observe(key, fence, () => this.inner.replace(key, value, expectedVersion, fence));
  }

  async remove(key: string, fence: LeaderSession, expectedVersion?: bigint): Promise<boolean> {
    const removed = await this.refusals(key, fence, () => this.inner.remove(key, fence, expectedVersion));
    if (removed) this.events({ event: "store-write", key, op: "remove", epoch: fence.epoch });
    return removed;
  }

  watch(dir: string, onChange: (change: StoreChange) => void): Promise<StoreWatch> {
    return this.inner.watch(dir, onChange);
  }

  private async observe(key: string, fence: LeaderSession, write: () => Promise<bigint>): Promise<bigint> {
    const version = await this.refusals(key, fence, write);
    this.events({
      event: "store-write",
      key,
      epoch: fence.epoch,
      ...(this.versionIsRevision && { revision: version }),
    });
    return version;
  }

  private async refusals<T>(key: string, fence: LeaderSession, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e: unknown) {
      if (e instanceof StaleFenceError) {
        this.events({ event: "store-write-refused", key, epoch: fence.epoch, reason: e.message });
      }
      throw e;
    }
  }
}
