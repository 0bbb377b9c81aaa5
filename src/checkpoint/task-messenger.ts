// Fan-out of checkpoint commands to the tasks of one checkpoint, with the failure policy of each: a failed
// trigger fails the checkpoint; a failed "complete" is logged (the next completed checkpoint's notification
// covers it, as in Flink); a failed abort is only logged at debug level (the checkpoint is over either way).
import { describeCause } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { CheckpointGateway, CheckpointTask } from "./gateway.ts";
import type { PendingCheckpoint } from "./pending-checkpoint.ts";

export class TaskMessenger {
  constructor(
    private readonly gateway: CheckpointGateway,
    private readonly logger: Logger,
  ) {}

  /** Asks each of `targets` to start the checkpoint; `onFailure` hears of the first refusal of each. */
  trigger(
    p: PendingCheckpoint,
    targets: readonly CheckpointTask[],
    onFailure: (executionId: string, error: unknown) => void,
  ): void {
    for (const task of targets) {
      void this.gateway
        .trigger(task, p.checkpointId, p.timestampMs, p.savepoint)
        .catch((e: unknown) => onFailure(task.executionId, e));
    }
  }

  notifyComplete(p: PendingCheckpoint): void {
    for (const task of p.tasks) {
      void this.gateway.notifyComplete(task, p.checkpointId).catch((e: unknown) => {
        this.logger.warn("could not tell a task that a checkpoint completed; the next one will", {
          checkpoint: p.checkpointId,
          execution: task.executionId,
          error: describeCause(e),
        });
      });
    }
  }

  abort(p: PendingCheckpoint, reason: string): void {
    for (const task of p.tasks) {
      void this.gateway.abort(task, p.checkpointId, reason).catch((e: unknown) => {
        this.logger.debug("could not tell a task that a checkpoint was aborted", {
          checkpoint: p.checkpointId,
          execution: task.executionId,
          error: describeCause(e),
        });
      });
    }
  }
}
