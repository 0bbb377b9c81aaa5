// The TaskManagers a leader may have deployed tasks to (key `taskmanagers`). A leader adds a TaskManager here
// (fenced) before its first deployment to it and removes it when it drops the TaskManager; a new leader
// deploys recovered jobs only once every listed TaskManager re-registered with it (which stops the old tasks
// first) or their task leases ran out, so that no subtask runs twice at once across a failover.
import { AlreadyExistsError, NotFoundError, VersionConflictError } from "../../common/errors.ts";
import { codecs } from "../../generated/records.ts";
import { storeKeys } from "../keys.ts";
import type { LeaderSession } from "../leader-session.ts";
import type { StateHandleStore } from "../state-handle-store.ts";
import { decodeRecord, RECORD_VERSION } from "./records.ts";

const MAX_ATTEMPTS = 8;

export class TaskManagerRegistryStore {
  private readonly key = storeKeys.taskManagerRegistry;

  constructor(private readonly store: StateHandleStore) {}

  /** The listed TaskManager ids, sorted; [] when there is no record. CorruptRecordError names the key. */
  async get(): Promise<string[]> {
    const entry = await this.store.get(this.key);
    return entry ? this.decode(entry.value) : [];
  }

  /** Lists `ids` too (fenced). Writes nothing when every one is listed already. */
  async add(ids: readonly string[], fence: LeaderSession): Promise<void> {
    await this.update(fence, (listed) => {
      const before = listed.size;
      for (const id of ids) listed.add(id);
      return listed.size !== before;
    });
  }

  /** Unlists `ids` (fenced); the record goes when it becomes empty. Writes nothing when none is listed. */
  async remove(ids: readonly string[], fence: LeaderSession): Promise<void> {
    await this.update(fence, (listed) => {
      let changed = false;
      for (const id of ids) changed = listed.delete(id) || changed;
      return changed;
    });
  }

  /** Read, change, compare-and-set; another leader's write in between (only a legitimate one lands) retries. */
  private async update(fence: LeaderSession, change: (listed: Set<string>) => boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.store.get(this.key);
      const listed = new Set(entry ? this.decode(entry.value) : []);
      if (!change(listed)) return;
      const ids = [...listed].sort();
      const value = codecs.TaskManagerRegistry.encode({ version: RECORD_VERSION, taskmanagerIds: ids });
      try {
        if (!entry) await this.store.create(this.key, value, fence);
        else if (ids.length === 0) await this.store.remove(this.key, fence, entry.version);
        else await this.store.replace(this.key, value, entry.version, fence);
        return;
      } catch (e: unknown) {
        const raced =
          e instanceof VersionConflictError || e instanceof AlreadyExistsError || e instanceof NotFoundError;
        if (!raced || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  }

  private decode(value: Uint8Array): string[] {
    return [...decodeRecord(codecs.TaskManagerRegistry, this.key, value).taskmanagerIds].sort();
  }
}
