// What a job master needs for checkpoints: the job's completed-checkpoint store and id counter in the HA
// store, the file storage, and the job's checkpoint config; and the gateway through which the checkpoint
// coordinator reaches the tasks (the ResourceManager's TaskExecutor clients, with this leader's epoch).

import type { CheckpointConfig } from "../checkpoint/config.ts";
import type { CheckpointGateway } from "../checkpoint/gateway.ts";
import type { CheckpointIdCounter } from "../ha/stores/checkpoint-id-counter.ts";
import type { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
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
    trigger: (task, checkpointId, timestampMs, savepoint) =>
      rm.checkpointCommand(task.executionId, (client, epoch, options) =>
        client.triggerCheckpoint(
          {
            epoch,
            executionId: task.executionId,
            checkpointId,
            timestampMs: BigInt(timestampMs),
            savepoint,
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
