// The files of checkpoints: which state blobs each retained checkpoint references, and deleting the files
// nothing references any more (an aborted checkpoint's states; a subsumed checkpoint's metadata and the
// states no retained checkpoint shares). Deletion always comes after the pointer is gone (DESIGN.md §3), and
// failures only leave orphans behind for the cleanup pass; they are logged, never thrown.
import { describeCause } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { BlobRef } from "../generated/records.ts";
import type {
  CompletedCheckpoint,
  CompletedCheckpointStore,
} from "../ha/stores/completed-checkpoint-store.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import { readMetadata } from "./metadata.ts";
import { stateRefs } from "./pending-checkpoint.ts";

export class CheckpointFiles {
  /** State blobs of retained checkpoints by id; undefined when the metadata could not be read. */
  private readonly known = new Map<bigint, readonly BlobRef[] | undefined>();
  /** Whether `known` covers every retained checkpoint (this coordinator is the only writer once it has). */
  private learned = false;

  constructor(
    private readonly jobId: string,
    private readonly store: CompletedCheckpointStore,
    private readonly blobs: FileBlobStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Learns the states of every checkpoint in `retained` not known yet and forgets the others. Called before a
   * pointer write, because a store that subsumes deletes the metadata we need to find the state blobs.
   */
  async learn(retained: readonly CompletedCheckpoint[]): Promise<void> {
    const ids = new Set(retained.map((c) => c.checkpointId));
    for (const id of this.known.keys()) if (!ids.has(id)) this.known.delete(id);
    for (const c of retained) {
      if (this.known.has(c.checkpointId)) continue;
      let refs: BlobRef[] | undefined;
      try {
        if (c.metadata === undefined) throw new Error("the pointer has no metadata reference");
        const metadata = await readMetadata(this.blobs, c.metadata, {
          jobId: this.jobId,
          checkpointId: c.checkpointId,
        });
        refs = stateRefs(metadata.states);
      } catch (e: unknown) {
        this.logger.warn(
          "cannot read a retained checkpoint's metadata; its state files will not be deleted",
          {
            checkpoint: c.checkpointId,
            error: describeCause(e),
          },
        );
      }
      this.known.set(c.checkpointId, refs);
    }
    this.learned = true;
  }

  /** Records the states of a checkpoint this coordinator just completed. */
  remember(checkpointId: bigint, refs: readonly BlobRef[]): void {
    this.known.set(checkpointId, refs);
  }

  /**
   * Deletes the metadata of each subsumed checkpoint (pointers already removed) and each of its state blobs
   * that no checkpoint in `retainedIds` references (undefined: unknown, so no state blob is deleted).
   * Savepoints' files are the user's and stay.
   */
  async discard(
    subsumed: readonly CompletedCheckpoint[],
    retainedIds: readonly bigint[] | undefined,
  ): Promise<void> {
    const referenced = new Set<string>();
    let unknown = retainedIds === undefined;
    for (const id of retainedIds ?? []) {
      const refs = this.known.get(id);
      if (refs === undefined) unknown = true;
      for (const r of refs ?? []) referenced.add(r.uri);
    }
    for (const c of subsumed) {
      const refs = this.known.get(c.checkpointId);
      this.known.delete(c.checkpointId);
      if (c.savepoint) continue;
      if (c.metadata) await this.delete([c.metadata], `subsumed checkpoint ${c.checkpointId}`);
      if (unknown || refs === undefined) {
        this.logger.warn(
          "keeping a subsumed checkpoint's state files: cannot tell which are still referenced",
          {
            checkpoint: c.checkpointId,
          },
        );
        continue;
      }
      await this.delete(
        refs.filter((r) => !referenced.has(r.uri)),
        `subsumed checkpoint ${c.checkpointId}`,
      );
    }
  }

  /**
   * Deletes those of `refs` (an aborted checkpoint's states and metadata) that no retained checkpoint
   * references: a task may hand in an unchanged state blob again. Keeps them all when that is unknown.
   */
  async deleteUnreferenced(refs: readonly BlobRef[], what: string): Promise<void> {
    if (refs.length === 0) return;
    try {
      if (!this.learned) await this.learn(await this.store.all());
    } catch (e: unknown) {
      this.logger.warn(`keeping the files of ${what}: cannot list the retained checkpoints`, {
        error: describeCause(e),
      });
      return;
    }
    const referenced = new Set<string>();
    for (const [id, known] of this.known) {
      if (known === undefined) {
        this.logger.warn(`keeping the files of ${what}: retained checkpoint ${id} cannot be read`);
        return;
      }
      for (const r of known) referenced.add(r.uri);
    }
    await this.delete(
      refs.filter((r) => !referenced.has(r.uri)),
      what,
    );
  }

  /** Deletes blobs that nothing references; `what` says whose they are, for the log. */
  private async delete(refs: readonly BlobRef[], what: string): Promise<void> {
    for (const ref of refs) {
      try {
        await this.blobs.delete(ref);
      } catch (e: unknown) {
        this.logger.warn(`cannot delete a file of ${what}; it stays as an orphan`, {
          uri: ref.uri,
          error: describeCause(e),
        });
      }
    }
  }
}
