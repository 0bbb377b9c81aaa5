// CheckpointMetadata in file storage: written once every task acknowledged, read strictly on restore
// (DESIGN.md §3: a latest checkpoint that cannot be read fails the restore; there is no fallback).
import { CorruptRecordError, NotFoundError } from "../common/errors.ts";
import { type BlobRef, type CheckpointMetadata, codecs } from "../generated/records.ts";
import { storeKeys } from "../ha/keys.ts";
import type { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import { decodeRecord, RECORD_VERSION } from "../ha/stores/records.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import type { PendingCheckpoint } from "./pending-checkpoint.ts";

/** The metadata record of a fully acknowledged checkpoint. */
export function metadataOf(jobId: string, pending: PendingCheckpoint): CheckpointMetadata {
  return {
    version: RECORD_VERSION,
    jobId,
    checkpointId: pending.checkpointId,
    triggeredAtMs: BigInt(pending.timestampMs),
    savepoint: pending.savepoint,
    states: pending.states(),
  };
}

/** Writes the metadata blob; its name says what it is, for whoever has to clean up by hand. */
export function writeMetadata(blobs: FileBlobStore, metadata: CheckpointMetadata): Promise<BlobRef> {
  const kind = `${metadata.savepoint ? "savepoint" : "checkpoint"}-${metadata.jobId}-${metadata.checkpointId}`;
  return blobs.put(kind, codecs.CheckpointMetadata.encode(metadata));
}

/**
 * Reads and checks a metadata blob: NotFoundError / CorruptRecordError when it is missing, altered, not a
 * CheckpointMetadata, or of another job or checkpoint than `expected`.
 */
export async function readMetadata(
  blobs: FileBlobStore,
  ref: BlobRef,
  expected: { readonly jobId: string; readonly checkpointId: bigint },
): Promise<CheckpointMetadata> {
  const metadata = decodeRecord(codecs.CheckpointMetadata, ref.uri, await blobs.get(ref));
  if (metadata.jobId !== expected.jobId || metadata.checkpointId !== expected.checkpointId) {
    throw new CorruptRecordError(
      ref.uri,
      `metadata is of job ${metadata.jobId} checkpoint ${metadata.checkpointId}, its pointer says job ${expected.jobId} checkpoint ${expected.checkpointId}`,
    );
  }
  return metadata;
}

/** See CheckpointCoordinator.latestForRestore. */
export async function readLatestForRestore(
  store: CompletedCheckpointStore,
  blobs: FileBlobStore,
): Promise<CheckpointMetadata | undefined> {
  const latest = await store.latest();
  if (latest === undefined) return undefined;
  const key = storeKeys.checkpoint(store.jobId, latest.checkpointId);
  if (latest.metadata === undefined) {
    throw new CorruptRecordError(key, "the checkpoint pointer has no metadata reference; cannot restore");
  }
  try {
    return await readMetadata(blobs, latest.metadata, {
      jobId: store.jobId,
      checkpointId: latest.checkpointId,
    });
  } catch (e: unknown) {
    // A pointer whose metadata is gone is a broken checkpoint, not a missing one: never read it as "none".
    if (e instanceof NotFoundError) {
      throw new CorruptRecordError(key, `its metadata ${latest.metadata.uri} is missing; cannot restore`, e);
    }
    throw e;
  }
}
