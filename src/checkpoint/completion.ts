// Making a fully acknowledged checkpoint durable: metadata blob first, fenced pointer second (DESIGN.md §3).
// Every failure is classified by what it leaves behind: a pointer write that surely did not land lets us
// delete the checkpoint's files; one whose outcome is unknown keeps them all, because the pointer may exist
// (now or later) and a restore would then read them.
import { rm } from "node:fs/promises";
import { describeCause, PossiblyInconsistentStateError } from "../common/errors.ts";
import type { BlobRef } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type {
  CompletedCheckpoint,
  CompletedCheckpointStore,
} from "../ha/stores/completed-checkpoint-store.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import type { CheckpointFiles } from "./checkpoint-files.ts";
import { metadataOf, writeMetadata } from "./metadata.ts";
import { type PendingCheckpoint, stateRefs } from "./pending-checkpoint.ts";
import { writeSavepointDirectory } from "./savepoint-directory.ts";

export interface CompletionContext {
  readonly jobId: string;
  readonly session: LeaderSession;
  readonly store: CompletedCheckpointStore;
  readonly blobs: FileBlobStore;
  readonly files: CheckpointFiles;
}

export type Completion =
  | {
      readonly kind: "completed";
      /** The metadata blob in file storage; absent for a savepoint that is only a directory. */
      readonly metadata?: BlobRef;
      /** A savepoint's directory. */
      readonly path?: string | undefined;
      /** Bytes written: every state blob plus the metadata. */
      readonly bytes: number;
      /** Checkpoints whose pointers the store removed; their files are ours to delete. */
      readonly subsumed: readonly CompletedCheckpoint[];
      /** The retained checkpoints after the add; undefined when unknown (no state files may be deleted). */
      readonly retainedIds: readonly bigint[] | undefined;
    }
  | {
      readonly kind: "failed";
      readonly reason: string;
      readonly cause: unknown;
      /** The pointer may exist: every file was kept and the tasks must not be told to drop anything. */
      readonly outcomeUnknown: boolean;
    };

/**
 * A savepoint first becomes its directory. Then (checkpoints and stop-with-savepoint, not plain savepoints)
 * the metadata blob, then the pointer. Never throws.
 */
export async function completeCheckpoint(ctx: CompletionContext, p: PendingCheckpoint): Promise<Completion> {
  const id = p.checkpointId;
  const refs = stateRefs(p.states());
  const what = `${p.savepoint ? "savepoint" : "checkpoint"} ${id}`;
  const record = metadataOf(ctx.jobId, p);
  const stateBytes = refs.reduce((sum, r) => sum + r.size, 0n);
  let path: string | undefined;
  if (p.target) {
    try {
      ctx.session.assertLeader();
      path = await writeSavepointDirectory(ctx.blobs, record, p.target.directory);
    } catch (e: unknown) {
      await ctx.files.deleteUnreferenced(refs, what);
      return failed(`writing the savepoint directory failed: ${describeCause(e)}`, e);
    }
    if (!p.target.stop) {
      // A savepoint belongs to the user: no pointer, so retention never subsumes it and recovery never uses
      // it (as in Flink since 1.15). Its directory holds copies; file storage keeps nothing of it.
      await ctx.files.deleteUnreferenced(refs, what);
      return { kind: "completed", path, bytes: Number(stateBytes), subsumed: [], retainedIds: undefined };
    }
  }
  let metadata: BlobRef;
  try {
    ctx.session.assertLeader();
    metadata = await writeMetadata(ctx.blobs, record);
  } catch (e: unknown) {
    await ctx.files.deleteUnreferenced(refs, what);
    if (path !== undefined) await removeDirectory(path);
    return failed(`writing its metadata failed: ${describeCause(e)}`, e);
  }
  const bytes = Number(stateBytes + metadata.size);

  let retained: CompletedCheckpoint[] | undefined;
  try {
    retained = await ctx.store.all();
    await ctx.files.learn(retained);
  } catch {
    retained = undefined;
  }
  try {
    ctx.session.assertLeader();
    // A stop-with-savepoint is stored as the job's checkpoint: a failover before the job ended restores it
    // (its sinks committed on it), and its files in storage go with the job; the directory is the user's copy.
    const subsumed = await ctx.store.add(
      { checkpointId: id, metadata, completedAtMs: BigInt(Date.now()), savepoint: false },
      ctx.session,
    );
    ctx.files.remember(id, refs);
    const gone = new Set(subsumed.map((c) => c.checkpointId));
    const retainedIds = retained && [...retained.map((c) => c.checkpointId), id].filter((x) => !gone.has(x));
    return { kind: "completed", metadata, path, bytes, subsumed, retainedIds };
  } catch (e: unknown) {
    // The add may have failed after its create landed (while removing subsumed pointers): look.
    const landed = await pointerLanded(ctx.store, id, metadata);
    if (landed) {
      ctx.files.remember(id, refs);
      return { kind: "completed", metadata, path, bytes, subsumed: [], retainedIds: undefined };
    }
    const outcomeUnknown = landed === undefined || e instanceof PossiblyInconsistentStateError;
    if (!outcomeUnknown) {
      await ctx.files.deleteUnreferenced([metadata, ...refs], what);
      if (path !== undefined) await removeDirectory(path);
    }
    return failed(
      `writing its pointer failed: ${describeCause(e)}` +
        (outcomeUnknown ? `; the outcome is unknown, so its files are kept (metadata ${metadata.uri})` : ""),
      e,
      outcomeUnknown,
    );
  }
}

function failed(reason: string, cause: unknown, outcomeUnknown = false): Completion {
  return { kind: "failed", reason, cause, outcomeUnknown };
}

/** A stop-with-savepoint that did not become the job's checkpoint leaves no directory that looks complete. */
async function removeDirectory(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => {});
}

/** true / false when the store answered, undefined when it could not be read. */
async function pointerLanded(
  store: CompletedCheckpointStore,
  id: bigint,
  metadata: BlobRef,
): Promise<boolean | undefined> {
  try {
    return (await store.all()).some((c) => c.checkpointId === id && c.metadata?.uri === metadata.uri);
  } catch {
    return undefined;
  }
}
