// A job's checkpoint-id counter (jobs/<job>/checkpoint-counter): a fenced compare-and-set on one record, so
// ids only ever increase, across leaders. A deposed leader can never hand out an id: its CAS is fenced.
import { AlreadyExistsError, VersionConflictError } from "../../common/errors.ts";
import { codecs } from "../../generated/records.ts";
import { storeKeys } from "../keys.ts";
import type { LeaderSession } from "../leader-session.ts";
import type { StateHandleStore } from "../state-handle-store.ts";
import { decodeRecord, RECORD_VERSION } from "./records.ts";

const MAX_ATTEMPTS = 8;

export class CheckpointIdCounter {
  private readonly key: string;

  constructor(
    private readonly store: StateHandleStore,
    readonly jobId: string,
  ) {
    this.key = storeKeys.checkpointCounter(jobId);
  }

  /** The next id that getAndIncrement would hand out (1 for a new job). */
  async get(): Promise<bigint> {
    const entry = await this.store.get(this.key);
    return entry ? decodeRecord(codecs.CheckpointCounter, this.key, entry.value).next : 1n;
  }

  /** Hands out the next id and advances the counter, atomically and fenced. */
  async getAndIncrement(fence: LeaderSession): Promise<bigint> {
    return this.advance(fence, (next) => next + 1n);
  }

  /** Raises the counter to at least `next` (restoring from a savepoint); never lowers it. Returns the value. */
  async raiseTo(next: bigint, fence: LeaderSession): Promise<bigint> {
    await this.advance(fence, (current) => (next > current ? next : current));
    return this.get();
  }

  /** Deletes the counter (job cleanup). */
  async remove(fence: LeaderSession): Promise<void> {
    await this.store.remove(this.key, fence);
  }

  private async advance(fence: LeaderSession, step: (current: bigint) => bigint): Promise<bigint> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.store.get(this.key);
      const current = entry ? decodeRecord(codecs.CheckpointCounter, this.key, entry.value).next : 1n;
      const value = codecs.CheckpointCounter.encode({ version: RECORD_VERSION, next: step(current) });
      try {
        if (entry) await this.store.replace(this.key, value, entry.version, fence);
        else await this.store.create(this.key, value, fence);
        return current;
      } catch (e: unknown) {
        // Someone else moved the counter between our read and our write: read again. The fence makes sure
        // that "someone" was a legitimate leader, and that our retry fails if we are no longer one.
        const raced = e instanceof VersionConflictError || e instanceof AlreadyExistsError;
        if (!raced || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  }
}
