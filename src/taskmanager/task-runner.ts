// The seam between a TaskManager's bookkeeping and the code that runs a task. The TaskExecutor fences
// commands, holds slots and reports states; a TaskRunner only starts a task's code and hands back its outcome
// and its checkpoint commands. It is injected so that the streaming runtime (stream-task-runner.ts), the
// controllable tasks of unit tests and the benchmarks' workers all run under the same executor.
import type { TaskDescriptor } from "../generated/records.ts";
import type { SnapshotKind } from "../runtime/streaming/task.ts";

/** What a runner gets to start one task. */
export interface TaskRunContext {
  readonly task: TaskDescriptor;
  /** The epoch of the leader that deployed it (the deploy request's). */
  readonly epoch: bigint;
  /** Aborted = cancel: stop promptly (< 100 ms). */
  readonly signal: AbortSignal;
  /** Cumulative records (called at most ~10 times/s, and at the end). */
  onRecords(total: number): void;
}

/** A started task: its outcome and its checkpoint commands (as runStreamTask's StreamTask). */
export interface TaskHandle {
  /** Resolves when it finished; rejects with the failure, or signal.reason when cancelled. */
  readonly done: Promise<void>;
  /** Never throws. */
  triggerCheckpoint(checkpointId: bigint, timestampMs: number, kind: SnapshotKind): void;
  notifyCheckpointComplete(checkpointId: bigint): void;
  abortCheckpoint(checkpointId: bigint): void;
}

export type TaskRunner = (context: TaskRunContext) => TaskHandle;
