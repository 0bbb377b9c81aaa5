// Flink's CheckpointFailureManager, reduced to what vigil needs: consecutive failed periodic checkpoints are
// counted (timeouts, declines, failed triggers or writes; not aborts caused by a restart, a stop or a lost
// leadership), any completion resets the count, and one failure more than tolerated fails the job.
import { describeCause } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";

export class CheckpointFailureCounter {
  private consecutive = 0;

  constructor(
    /** checkpointing.tolerableFailures; Infinity = unlimited. */
    private readonly tolerable: number,
    private readonly onExceeded: ((reason: string) => void) | undefined,
    private readonly logger: Logger,
  ) {}

  succeeded(): void {
    this.consecutive = 0;
  }

  failed(reason: string): void {
    this.consecutive++;
    if (this.consecutive <= this.tolerable) return;
    const message = `${this.consecutive} consecutive checkpoints failed, more than checkpointing.tolerableFailures (${this.tolerable}); the last: ${reason}`;
    this.consecutive = 0;
    this.logger.error(message);
    try {
      this.onExceeded?.(message);
    } catch (e: unknown) {
      this.logger.error("the checkpoint failure handler threw", { error: describeCause(e) });
    }
  }
}
