// Pointers to a job's completed checkpoints (jobs/<job>/checkpoints/<id>), newest N kept. The checkpoint's
// metadata lives in file storage; a subsumed checkpoint loses its pointer first and its metadata blob second.
// Reads are strict: a pointer that cannot be read fails the call, it is never skipped (DESIGN.md §3).
import { type BlobRef, type CheckpointPointer, codecs } from "../../generated/records.ts";
import type { FileBlobStore } from "../../storage/blob-store.ts";
import { storeKeys } from "../keys.ts";
import type { LeaderSession } from "../leader-session.ts";
import type { StateHandleStore } from "../state-handle-store.ts";
import { decodeRecord, RECORD_VERSION } from "./records.ts";

export interface CompletedCheckpoint {
  readonly checkpointId: bigint;
  readonly metadata?: BlobRef;
  readonly completedAtMs: bigint;
  readonly savepoint: boolean;
}

export class CompletedCheckpointStore {
  constructor(
    private readonly store: StateHandleStore,
    private readonly blobs: FileBlobStore | undefined,
    readonly jobId: string,
    /** How many completed checkpoints to keep (at least 1). */
    readonly retain: number,
  ) {
    if (!Number.isInteger(retain) || retain < 1)
      throw new RangeError(`retain must be an integer ≥ 1, got ${retain}`);
  }

  /**
   * Adds a completed checkpoint (fenced; AlreadyExistsError for a duplicate id), then removes the oldest
   * beyond `retain` and returns them. If the add fails, nothing is removed.
   */
  async add(checkpoint: CompletedCheckpoint, fence: LeaderSession): Promise<CompletedCheckpoint[]> {
    const record: CheckpointPointer = { version: RECORD_VERSION, jobId: this.jobId, ...checkpoint };
    await this.store.create(
      storeKeys.checkpoint(this.jobId, checkpoint.checkpointId),
      codecs.CheckpointPointer.encode(record),
      fence,
    );
    const all = await this.all();
    const subsumed = all.slice(0, Math.max(0, all.length - this.retain));
    for (const old of subsumed) await this.discard(old, fence);
    return subsumed;
  }

  /** The newest completed checkpoint, or undefined when there is none. */
  async latest(): Promise<CompletedCheckpoint | undefined> {
    return (await this.all()).at(-1);
  }

  /** Every retained checkpoint, oldest first. */
  async all(): Promise<CompletedCheckpoint[]> {
    const entries = await this.store.list(storeKeys.checkpoints(this.jobId));
    return entries
      .map((e) => toCheckpoint(decodeRecord(codecs.CheckpointPointer, e.key, e.value)))
      .sort((a, b) => (a.checkpointId < b.checkpointId ? -1 : a.checkpointId > b.checkpointId ? 1 : 0));
  }

  /** Removes every pointer and then its metadata (job finished or cancelled). */
  async removeAll(fence: LeaderSession): Promise<void> {
    for (const c of await this.all()) await this.discard(c, fence);
  }

  private async discard(checkpoint: CompletedCheckpoint, fence: LeaderSession): Promise<void> {
    await this.store.remove(storeKeys.checkpoint(this.jobId, checkpoint.checkpointId), fence);
    if (checkpoint.metadata && this.blobs) await this.blobs.delete(checkpoint.metadata);
  }
}

function toCheckpoint(p: CheckpointPointer): CompletedCheckpoint {
  return {
    checkpointId: p.checkpointId,
    completedAtMs: p.completedAtMs,
    savepoint: p.savepoint,
    ...(p.metadata && { metadata: p.metadata }),
  };
}
