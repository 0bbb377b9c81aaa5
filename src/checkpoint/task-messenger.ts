// Fan-out of checkpoint commands to the tasks of one checkpoint, with the failure policy of each: a failed
// trigger fails the checkpoint; a failed "complete" is logged (the next completed checkpoint's notification
// covers it, as in Flink); a failed abort is only logged at debug level (the checkpoint is over either way).
import { sleep } from "../common/clock.ts";
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
        .trigger(task, p.checkpointId, p.timestampMs, p.savepoint, p.target?.stop ?? false)
        .catch((e: unknown) => onFailure(task.executionId, e));
    }
  }

  /**
   * Tells every task that `p` completed. A failed delivery is left to the next completed checkpoint, unless
   * `retryUntil` is given: then it is repeated (with back-off) until it arrives or that signal aborts.
   * Resolves once every delivery is over; never rejects.
   */
  async notifyComplete(p: PendingCheckpoint, retryUntil?: AbortSignal): Promise<void> {
    await Promise.all(p.tasks.map((task) => this.notifyOne(p, task, retryUntil)));
  }

  private async notifyOne(
    p: PendingCheckpoint,
    task: CheckpointTask,
    retryUntil?: AbortSignal,
  ): Promise<void> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        await this.gateway.notifyComplete(task, p.checkpointId);
        return;
      } catch (e: unknown) {
        const fields = { checkpoint: p.checkpointId, execution: task.executionId, error: describeCause(e) };
        if (retryUntil === undefined) {
          this.logger.warn("could not tell a task that a checkpoint completed; the next one will", fields);
          return;
        }
        this.logger.info("could not tell a task that a checkpoint completed; retrying", fields);
        if (
          !(await sleep(delay, retryUntil).then(
            () => true,
            () => false,
          ))
        )
          return;
      }
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
