// One task on a TaskManager from its start to its stop: RUNNING, then CANCELING when it is asked to stop, then
// FINISHED, CANCELED or FAILED once its code has really stopped. Only then is its slot freed: a cancel merely
// requested leaves the slot taken, which is what keeps a subtask from running twice on one TaskManager. Every
// change is reported (logs, the events task-running / task-stopped, the state-change callback) and no report
// that throws may leave a stop unrecorded. The TaskExecutor decides when a task starts and is cancelled.
import { CancelledError, describeCause } from "../common/errors.ts";
import type { VigilEvent } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { ExecutionState, TaskDescriptor, TaskStatus } from "../generated/records.ts";
import type { SlotTable } from "./slots.ts";
import type { TaskHandle, TaskRunContext, TaskRunner } from "./task-runner.ts";

/** A task's new status, with the epoch of the leader that deployed it. */
export interface TaskStateChange {
  readonly epoch: bigint;
  readonly status: TaskStatus;
}

type Terminal = "FINISHED" | "CANCELED" | "FAILED";

export interface Task {
  readonly descriptor: TaskDescriptor;
  readonly epoch: bigint;
  readonly controller: AbortController;
  /** Undefined only if the runner threw instead of returning a handle. */
  handle: TaskHandle | undefined;
  state: ExecutionState;
  records: bigint;
  error: string;
  /** Resolves once the task's code has stopped and its slot is free; never rejects. */
  stopped: Promise<void>;
  /** Reported as not stopping by a cancellation deadline: no later wait waits for it again. */
  fatal: boolean;
}

export function isTerminal(state: ExecutionState): boolean {
  return (
    state === "EXECUTION_STATE_FINISHED" ||
    state === "EXECUTION_STATE_CANCELED" ||
    state === "EXECUTION_STATE_FAILED"
  );
}

/** The record of a task about to start (in a slot already reserved for it). */
export function newTask(descriptor: TaskDescriptor, epoch: bigint): Task {
  return {
    descriptor,
    epoch,
    controller: new AbortController(),
    handle: undefined,
    state: "EXECUTION_STATE_RUNNING",
    records: 0n,
    error: "",
    stopped: Promise.resolve(),
    fatal: false,
  };
}

export function taskStatus(task: Task): TaskStatus {
  return {
    executionId: task.descriptor.executionId,
    state: task.state,
    records: task.records,
    error: task.error,
  };
}

export interface TaskLifecycleOptions {
  readonly slots: SlotTable;
  readonly runTask: TaskRunner;
  /** Called synchronously on every state change (running, canceling, finished, canceled, failed). */
  readonly onStateChange: (change: TaskStateChange) => void;
  readonly logger: Logger;
  /** Never throws. */
  readonly emit: (event: VigilEvent) => void;
}

export class TaskLifecycle {
  constructor(private readonly options: TaskLifecycleOptions) {}

  /** Runs `task` through the runner; its `stopped` resolves (never rejects) once its code stopped. */
  start(task: Task): void {
    const { descriptor, epoch, controller } = task;
    const context: TaskRunContext = {
      task: descriptor,
      epoch,
      signal: controller.signal,
      onRecords: (total) => {
        if (Number.isFinite(total) && total >= 0) task.records = BigInt(Math.trunc(total));
      },
    };
    let running: Promise<void>;
    try {
      task.handle = this.options.runTask(context);
      running = task.handle.done;
    } catch (e: unknown) {
      running = Promise.reject(e);
    }
    this.options.logger.info("task running", { execution: descriptor.executionId, epoch });
    this.options.emit({ event: "task-running", ...identity(task) });
    this.changed(task);
    task.stopped = running.then(
      () => this.stopped(task, "FINISHED"),
      (e: unknown) =>
        controller.signal.aborted ? this.stopped(task, "CANCELED") : this.stopped(task, "FAILED", e),
    );
  }

  /** Aborts the task's signal (state CANCELING) unless it already ended or was asked to stop. */
  cancel(task: Task, reason: string): void {
    if (isTerminal(task.state) || task.controller.signal.aborted) return;
    task.state = "EXECUTION_STATE_CANCELING";
    task.controller.abort(new CancelledError(`task ${task.descriptor.executionId}: ${reason}`));
    this.changed(task);
  }

  private stopped(task: Task, state: Terminal, cause?: unknown): void {
    task.state = `EXECUTION_STATE_${state}`;
    if (state === "FAILED") task.error = describeCause(cause);
    this.options.slots.release(task.descriptor.slot, task.descriptor.executionId);
    const fields = { execution: task.descriptor.executionId, epoch: task.epoch, state };
    if (state === "FAILED") this.options.logger.warn("task failed", { ...fields, error: task.error });
    else this.options.logger.info("task stopped", fields);
    this.options.emit({
      event: "task-stopped",
      ...identity(task),
      state,
      ...(state === "FAILED" ? { error: task.error } : {}),
    });
    this.changed(task);
  }

  private changed(task: Task): void {
    try {
      this.options.onStateChange({ epoch: task.epoch, status: taskStatus(task) });
    } catch (e: unknown) {
      this.options.logger.error("task state listener threw", { error: describeCause(e) });
    }
  }
}

/** The fields task-running and task-stopped share (epoch last, as in the design). */
function identity(task: Task): Record<string, unknown> {
  const d = task.descriptor;
  return {
    job: d.jobId,
    execution: d.executionId,
    vertex: d.chain[0]?.id ?? "",
    subtask: d.subtask,
    attempt: d.attempt,
    epoch: task.epoch,
  };
}
