// The TaskManagers a leader may have deployed tasks to (key `taskmanagers`). A leader adds a TaskManager here
// (fenced) before its first deployment to it and removes it when it drops the TaskManager; a new leader
// deploys recovered jobs only once every listed TaskManager re-registered with it (which stops the old tasks
// first) or their task leases ran out, so that no subtask runs twice at once across a failover. The record
// also keeps the longest task lease any writer granted: JobManagers may be configured with different
// heartbeat timeouts, and a new leader must wait out the longest one, not its own.
import { AlreadyExistsError, NotFoundError, VersionConflictError } from "../../common/errors.ts";
import { codecs } from "../../generated/records.ts";
import { storeKeys } from "../keys.ts";
import type { LeaderSession } from "../leader-session.ts";
import type { StateHandleStore, StoredEntry } from "../state-handle-store.ts";
import { decodeRecord, RECORD_VERSION } from "./records.ts";

const MAX_ATTEMPTS = 8;

export interface TaskManagerRegistryContents {
  /** Sorted. */
  readonly taskmanagerIds: string[];
  /** The longest task lease (ms) granted by a leader that wrote the record; 0 when there is no record. */
  readonly taskLeaseMs: number;
}

export class TaskManagerRegistryStore {
  private readonly key = storeKeys.taskManagerRegistry;

  constructor(private readonly store: StateHandleStore) {}

  /** The listed TaskManagers and the recorded task lease; empty when there is no record. CorruptRecordError
   * names the key. */
  async get(): Promise<TaskManagerRegistryContents> {
    const entry = await this.store.get(this.key);
    return entry ? this.decode(entry.value) : { taskmanagerIds: [], taskLeaseMs: 0 };
  }

  /**
   * Lists `ids` too (fenced), recording a task lease of at least `taskLeaseMs` (the writer's heartbeat
   * timeout). Writes nothing when every one is listed already and the recorded lease is as long.
   */
  async add(ids: readonly string[], taskLeaseMs: number, fence: LeaderSession): Promise<void> {
    await this.update(fence, taskLeaseMs, true, (listed) => {
      const before = listed.size;
      for (const id of ids) listed.add(id);
      return listed.size !== before;
    });
  }

  /**
   * Unlists `ids` (fenced), recording a task lease of at least `taskLeaseMs`; the record goes when it becomes
   * empty. Writes nothing when none is listed.
   */
  async remove(ids: readonly string[], taskLeaseMs: number, fence: LeaderSession): Promise<void> {
    await this.update(fence, taskLeaseMs, false, (listed) => {
      let changed = false;
      for (const id of ids) changed = listed.delete(id) || changed;
      return changed;
    });
  }

  /**
   * Overwrites whatever is stored, a corrupt record included, with exactly `ids` and `taskLeaseMs` (fenced);
   * no record when `ids` is empty. Only for a leader that has waited out every task lease since its grant.
   */
  async reset(ids: readonly string[], taskLeaseMs: number, fence: LeaderSession): Promise<void> {
    await this.write(fence, () => ({ ids: [...new Set(ids)].sort(), taskLeaseMs }));
  }

  /**
   * Read, change, compare-and-set; another leader's write in between (only a legitimate one lands) retries.
   * `raise`: a longer lease alone is worth a write (the writer is about to grant it to listed TaskManagers).
   */
  private async update(
    fence: LeaderSession,
    taskLeaseMs: number,
    raise: boolean,
    change: (listed: Set<string>) => boolean,
  ): Promise<void> {
    await this.write(fence, (entry) => {
      const recorded = entry ? this.decode(entry.value) : { taskmanagerIds: [], taskLeaseMs: 0 };
      const listed = new Set(recorded.taskmanagerIds);
      const changed = change(listed);
      const lease = Math.max(recorded.taskLeaseMs, taskLeaseMs);
      if (!changed && !(raise && lease > recorded.taskLeaseMs)) return undefined;
      return { ids: [...listed].sort(), taskLeaseMs: lease };
    });
  }

  /** `next` gives the record to store (undefined: nothing to write) from what is stored now. */
  private async write(
    fence: LeaderSession,
    next: (entry: StoredEntry | undefined) => { ids: string[]; taskLeaseMs: number } | undefined,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.store.get(this.key);
      const record = next(entry);
      if (!record) return;
      const value = codecs.TaskManagerRegistry.encode({
        version: RECORD_VERSION,
        taskmanagerIds: record.ids,
        taskLeaseMs: record.taskLeaseMs,
      });
      try {
        if (!entry) {
          if (record.ids.length > 0) await this.store.create(this.key, value, fence);
        } else if (record.ids.length === 0) await this.store.remove(this.key, fence, entry.version);
        else await this.store.replace(this.key, value, entry.version, fence);
        return;
      } catch (e: unknown) {
        const raced =
          e instanceof VersionConflictError || e instanceof AlreadyExistsError || e instanceof NotFoundError;
        if (!raced || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  }

  private decode(value: Uint8Array): TaskManagerRegistryContents {
    const record = decodeRecord(codecs.TaskManagerRegistry, this.key, value);
    return { taskmanagerIds: [...record.taskmanagerIds].sort(), taskLeaseMs: record.taskLeaseMs };
  }
}
