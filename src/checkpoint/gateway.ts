// What the checkpoint coordinator needs from the job master: the tasks of the running attempt and a way to
// reach them. The job master implements the gateway over the TaskExecutor RPCs of each task's TaskManager.
/** One deployed task (a subtask of a chain) of the current execution attempt. */
export interface CheckpointTask {
  readonly executionId: string;
  readonly subtask: number;
  readonly parallelism: number;
  /** The uids (JobVertex ids) of the chain's operators; an ack carries one state for each. */
  readonly operatorUids: readonly string[];
  /** A task without inputs: the coordinator triggers these; the others see barriers. */
  readonly isSource: boolean;
  /** The execution ids of the tasks feeding this one (empty or absent for a source). */
  readonly upstream?: readonly string[];
  /**
   * The task finished (FINISHED): it counts as acknowledging with the states it last acknowledged in a
   * completed checkpoint, as in Flink, and is not triggered. Once every task upstream of a running task
   * finished, that task is triggered directly (its inputs delivered every later barrier as "end").
   */
  readonly finished?: boolean;
}

/** The job master's way to reach its tasks. Each call rejects when the command did not (surely) arrive. */
export interface CheckpointGateway {
  /**
   * Asks a source task to snapshot and emit barrier `checkpointId`; with `stopSources` (stop-with-savepoint)
   * it then emits nothing more and ends once notified of the checkpoint's completion (resumes on abort).
   */
  trigger(
    task: CheckpointTask,
    checkpointId: bigint,
    timestampMs: number,
    savepoint: boolean,
    stopSources: boolean,
  ): Promise<void>;
  /** Checkpoint `checkpointId` is durable: the task may commit what it staged for every checkpoint ≤ it. */
  notifyComplete(task: CheckpointTask, checkpointId: bigint): Promise<void>;
  /**
   * Checkpoint `checkpointId` will never complete: the task stops aligning for it. What it staged for it
   * (a sink's pending files) must stay, to be committed by the next completed checkpoint (as in Flink).
   */
  abort(task: CheckpointTask, checkpointId: bigint, reason: string): Promise<void>;
}
