// What a job master needs for checkpoints: the job's completed-checkpoint store and id counter in the HA
// store, the file storage, and the job's checkpoint config; and the gateway through which the checkpoint
// coordinator reaches the tasks (the ResourceManager's TaskExecutor clients, with this leader's epoch); what an
// attempt restores, and what a terminal job leaves to delete.

import type { CheckpointConfig } from "../checkpoint/config.ts";
import type { CheckpointGateway } from "../checkpoint/gateway.ts";
import { readLatestForRestore, readMetadata } from "../checkpoint/metadata.ts";
import { stateRefs } from "../checkpoint/pending-checkpoint.ts";
import { deleteImportedSavepoint } from "../checkpoint/savepoint-directory.ts";
import { ConfigError, CorruptRecordError } from "../common/errors.ts";
import { type BlobRef, type CheckpointMetadata, codecs, type JobGraph } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { CheckpointIdCounter } from "../ha/stores/checkpoint-id-counter.ts";
import type { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import type { JobGraphStore } from "../ha/stores/job-graph-store.ts";
import { decodeRecord } from "../ha/stores/records.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import type { ResourceManager } from "./resource-manager.ts";

export interface JobCheckpoints {
  readonly config: CheckpointConfig;
  readonly store: CompletedCheckpointStore;
  readonly counter: CheckpointIdCounter;
  /** File storage (--storage-dir); without it nothing can be checkpointed or restored. */
  readonly blobs: FileBlobStore | undefined;
}

/** The job master's gateway to its tasks: each command goes to the TaskManager running the execution. */
export function taskGateway(rm: ResourceManager): CheckpointGateway {
  return {
    trigger: (task, checkpointId, timestampMs, savepoint, stopSources) =>
      rm.checkpointCommand(task.executionId, (client, epoch, options) =>
        client.triggerCheckpoint(
          {
            epoch,
            executionId: task.executionId,
            checkpointId,
            timestampMs: BigInt(timestampMs),
            savepoint,
            stopSources,
          },
          options,
        ),
      ),
    notifyComplete: (task, checkpointId) =>
      rm.checkpointCommand(task.executionId, (client, epoch, options) =>
        client.notifyCheckpointComplete({ epoch, executionId: task.executionId, checkpointId }, options),
      ),
    abort: (task, checkpointId) =>
      rm.checkpointCommand(task.executionId, (client, epoch, options) =>
        client.abortCheckpoint({ epoch, executionId: task.executionId, checkpointId }, options),
      ),
  };
}

/**
 * What an attempt restores, read strictly (an unreadable one throws; there is no fallback): the latest
 * completed checkpoint; else the savepoint the job was submitted with, after raising the checkpoint counter
 * past it (the tasks ignore checkpoint ids up to the one they restored); else nothing.
 */
export async function restorePoint(
  checkpoints: JobCheckpoints | undefined,
  graph: JobGraph,
  session: LeaderSession,
): Promise<CheckpointMetadata | undefined> {
  if (!checkpoints) return undefined;
  const { store, blobs, counter } = checkpoints;
  const savepoint = graph.savepointRestore?.metadata;
  if (!blobs) {
    const latest = await store.latest();
    if (latest === undefined && savepoint === undefined) return undefined;
    const what = latest ? `checkpoint ${latest.checkpointId} exists` : "the job starts from a savepoint";
    throw new ConfigError(
      `${what}, but this JobManager has no file storage to read it from; start it with --storage-dir`,
    );
  }
  const latest = await readLatestForRestore(store, blobs);
  if (latest !== undefined || savepoint === undefined) return latest;
  const metadata = decodeRecord(codecs.CheckpointMetadata, savepoint.uri, await blobs.get(savepoint));
  if (metadata.jobId !== graph.jobId) {
    throw new CorruptRecordError(
      savepoint.uri,
      `imported savepoint is of job ${metadata.jobId}, not ${graph.jobId}`,
    );
  }
  await counter.raiseTo(metadata.checkpointId + 1n, session);
  return metadata;
}

/** A terminal job's checkpoints: pointers and their files (CompletedCheckpointStore.removeAll), then the counter. */
export async function removeCheckpoints(
  checkpoints: JobCheckpoints | undefined,
  session: LeaderSession,
): Promise<void> {
  if (!checkpoints) return;
  const { store, blobs, counter } = checkpoints;
  const states: BlobRef[] = [];
  for (const c of await store.all()) {
    if (!blobs || !c.metadata) continue;
    try {
      const metadata = await readMetadata(blobs, c.metadata, {
        jobId: store.jobId,
        checkpointId: c.checkpointId,
      });
      states.push(...stateRefs(metadata.states));
    } catch {
      // Unreadable metadata: its state files stay as orphans; the pointer goes all the same.
    }
  }
  await store.removeAll(session);
  // Pointers first, files second (DESIGN.md §3); a file that is gone already is fine.
  for (const ref of states) await blobs?.delete(ref);
  await counter.remove(session);
}

/** A terminal job's graph, then what only the graph referenced: the savepoint imported at submission. */
export async function removeGraph(
  graphs: JobGraphStore,
  blobs: FileBlobStore | undefined,
  jobId: string,
  session: LeaderSession,
): Promise<void> {
  const imported = blobs && (await graphs.get(jobId))?.savepointRestore?.metadata;
  await graphs.remove(jobId, session);
  if (blobs && imported) await deleteImportedSavepoint(blobs, imported);
}
