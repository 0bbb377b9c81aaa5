// The TaskExecutor service of one TaskManager: the leader's commands (deploy, cancel, checkpoint) land here.
// Each command passes the epoch fence first (a deposed leader is refused, with evidence; command-fence.ts), a
// deploy must then belong to the current registration; tasks run through an injected runner (task-runner.ts),
// hold their slot until their code has really stopped and report every state change (task-lifecycle.ts).
// Checkpoint commands go to the running task's handle. Every wait for cancelled tasks has a deadline
// (cancellation-watchdog.ts); a task still running at it is a fatal error.
import { monotonicNow } from "../common/clock.ts";
import {
  CancelledError,
  describeCause,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from "../common/errors.ts";
import type { EventSink, VigilEvent } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CancelTaskRequest,
  CancelTaskResponse,
  CheckpointCommandResponse,
  CheckpointNotification,
  DeployTaskRequest,
  DeployTaskResponse,
  TaskStatus,
  TriggerCheckpointRequest,
} from "../generated/records.ts";
import type { TaskExecutorService } from "../generated/services.ts";
import type { CallOptions } from "../rpc/call.ts";
import { boundedCall } from "./bounded-call.ts";
import { awaitStops, TaskCancellationTimeoutError } from "./cancellation-watchdog.ts";
import { CommandFence } from "./command-fence.ts";
import type { EpochFence } from "./epoch-fence.ts";
import type { Registration } from "./registration.ts";
import { RetiredExecutions } from "./retired-executions.ts";
import { SlotTable } from "./slots.ts";
import {
  isTerminal,
  newTask,
  type Task,
  TaskLifecycle,
  type TaskStateChange,
  taskStatus,
} from "./task-lifecycle.ts";
import type { TaskRunner } from "./task-runner.ts";

export interface TaskExecutorOptions {
  /** This TaskManager's id, for messages. */
  readonly id: string;
  readonly slots: number;
  readonly fence: EpochFence;
  /** The registration whose lease currently holds; undefined when none does. Checked on every deploy. */
  readonly registration: () => Registration | undefined;
  /**
   * Resolves once no registration with the leader of `epoch` is in flight (at once when none is), or when
   * `signal` aborts. Never rejects.
   */
  readonly awaitRegistration: (epoch: bigint, signal: AbortSignal | undefined) => Promise<void>;
  readonly runTask: TaskRunner;
  /** Called synchronously on every state change (running, canceling, finished, canceled, failed). */
  readonly onStateChange: (change: TaskStateChange) => void;
  /** How long a task cancelled by the leader may take to stop before that is fatal (read at each cancel). */
  readonly cancellationTimeoutMs: () => number;
  /**
   * Called (after the event `fatal` and an error log) when tasks did not stop by their cancellation deadline.
   * The process should exit: nothing else stops a task that ignores its abort. Deploys are refused from then on.
   */
  readonly onFatalError: (error: TaskCancellationTimeoutError) => void;
  readonly logger: Logger;
  readonly events: EventSink;
}

export class TaskExecutor implements TaskExecutorService {
  readonly slots: SlotTable;
  private readonly tasks = new Map<string, Task>();
  /** Execution ids kept after they left `tasks`, so that a late or retried deploy never runs them. */
  private readonly retired = new RetiredExecutions();
  private readonly commands: CommandFence;
  private readonly lifecycle: TaskLifecycle;
  private closing = false;
  private fatalError: TaskCancellationTimeoutError | undefined;

  constructor(private readonly options: TaskExecutorOptions) {
    this.slots = new SlotTable(options.slots, options.id);
    const { id, fence, registration, runTask, onStateChange, logger } = options;
    const emit = (event: VigilEvent): void => this.emit(event);
    this.commands = new CommandFence({ id, fence, registration, logger, emit });
    this.lifecycle = new TaskLifecycle({ slots: this.slots, runTask, onStateChange, logger, emit });
  }

  /**
   * Starts the task in its slot. Idempotent on the execution id (a known execution answers at once and is not
   * run again). Refuses: a stale epoch (StaleEpochError, event command-rejected); an epoch or registration id
   * that is not the current registration's (RegistrationFenceError, event command-rejected); a slot out of
   * range (InvalidArgumentError) or taken (AlreadyExistsError); any deploy once closing or after a fatal error
   * (UnavailableError); an execution cancelled before it was deployed, or a deploy whose caller gave up (its
   * signal aborted) before the task started (CancelledError; event command-rejected in both cases).
   */
  async deployTask(request: DeployTaskRequest, options?: CallOptions): Promise<DeployTaskResponse> {
    const task = request.task;
    if (!task || task.executionId === "") {
      throw new InvalidArgumentError(
        `deploy to taskmanager ${this.options.id}: the request carries no task; send a TaskDescriptor with an execution id`,
      );
    }
    const what = `deploy ${task.executionId}`;
    this.commands.checkEpoch("deploy", task.executionId, request.epoch, what);
    this.checkOpen(what);
    this.checkNotCancelled(request.epoch, task.executionId, what);
    if (!this.commands.fromCurrentRegistration(request)) {
      // The leader may deploy as soon as it has answered our registration, and its deploy can overtake that
      // answer (two connections): let a registration with its epoch that is still in flight settle first.
      await this.options.awaitRegistration(request.epoch, options?.signal);
      // Anything may have happened meanwhile: a newer leader, a close, a cancel of this very execution.
      this.commands.checkEpoch("deploy", task.executionId, request.epoch, what);
      this.checkOpen(what);
      this.checkNotCancelled(request.epoch, task.executionId, what);
    }
    this.commands.checkRegistration(request, task.executionId, what);
    if (this.tasks.has(task.executionId) || this.retired.has(task.executionId)) return {};
    const head = task.chain[0];
    if (!head) throw new InvalidArgumentError(`${what}: the task's chain has no vertex`);
    if (options?.signal?.aborted) {
      // The leader stopped waiting (deadline passed, call cancelled) and counts this deploy as failed: a task
      // started now would run without the leader knowing of it.
      const detail =
        "the caller gave up (its deadline passed or it cancelled the call) before the task started";
      this.commands.reject("deploy", task.executionId, request.epoch, "caller-gave-up", detail);
      throw new CancelledError(`${what}: refused: ${detail}; nothing was started`);
    }
    this.slots.reserve(task.slot, task.executionId);
    const started = newTask(task, request.epoch);
    this.tasks.set(task.executionId, started);
    this.lifecycle.start(started);
    return {};
  }

  /**
   * Cancels the task and answers once its code has stopped, with its final state (CANCELED, or FINISHED /
   * FAILED when it ended first). An unknown execution answers CANCELED and is remembered, so that a deploy of
   * it arriving later is refused. A stale epoch is refused like a deploy. A task still running after the
   * cancellation timeout is a fatal error (TaskCancellationTimeoutError), whether or not the caller still waits.
   */
  async cancelTask(request: CancelTaskRequest, options?: CallOptions): Promise<CancelTaskResponse> {
    const what = `cancel ${request.executionId}`;
    this.commands.checkEpoch("cancel", request.executionId, request.epoch, what);
    const task = this.tasks.get(request.executionId);
    if (!task) {
      if (!this.retired.has(request.executionId)) this.retired.remember(request.executionId, "cancelled");
      return { state: "EXECUTION_STATE_CANCELED" };
    }
    const reason = `cancelled by the leader of epoch ${request.epoch}`;
    const deadline = monotonicNow() + this.options.cancellationTimeoutMs();
    // The watchdog runs to its deadline even when the caller stops waiting.
    const stopping = this.stopAll([task], reason, deadline);
    const late = options?.signal
      ? await boundedCall(() => stopping, { signal: options.signal, what })
      : await stopping;
    if (late.length > 0)
      throw new TaskCancellationTimeoutError(this.options.id, [task.descriptor.executionId], reason);
    return { state: task.state };
  }

  /**
   * Checkpoint commands (epoch-fenced like every command) go to the task of that execution deployed by that
   * epoch. A trigger for an unknown execution (or one of another epoch) is NOT_FOUND, so the coordinator
   * aborts that checkpoint; a task that already ended ignores it (the task answers through ack/decline).
   * Completion and abort notifications are idempotent and a no-op for unknown executions.
   */
  async triggerCheckpoint(request: TriggerCheckpointRequest): Promise<CheckpointCommandResponse> {
    const what = `trigger checkpoint ${request.checkpointId} of ${request.executionId}`;
    this.commands.checkEpoch("checkpoint", request.executionId, request.epoch, what);
    const task = this.tasks.get(request.executionId);
    if (task === undefined || task.epoch !== request.epoch) {
      throw new NotFoundError(
        `task ${request.executionId} of epoch ${request.epoch} on taskmanager ${this.options.id}`,
      );
    }
    const kind = request.stopSources ? "stop-savepoint" : request.savepoint ? "savepoint" : "checkpoint";
    task.handle?.triggerCheckpoint(request.checkpointId, Number(request.timestampMs), kind);
    return {};
  }

  async notifyCheckpointComplete(request: CheckpointNotification): Promise<CheckpointCommandResponse> {
    const what = `checkpoint ${request.checkpointId} complete`;
    this.commands.checkEpoch("checkpoint", request.executionId, request.epoch, what);
    this.taskOf(request)?.handle?.notifyCheckpointComplete(request.checkpointId);
    return {};
  }

  async abortCheckpoint(request: CheckpointNotification): Promise<CheckpointCommandResponse> {
    const what = `abort checkpoint ${request.checkpointId}`;
    this.commands.checkEpoch("checkpoint", request.executionId, request.epoch, what);
    this.taskOf(request)?.handle?.abortCheckpoint(request.checkpointId);
    return {};
  }

  private taskOf(request: CheckpointNotification): Task | undefined {
    const task = this.tasks.get(request.executionId);
    return task?.epoch === request.epoch ? task : undefined;
  }

  /** True once tasks failed to stop by a cancellation deadline: this TaskManager must not take work again. */
  get failed(): boolean {
    return this.fatalError !== undefined;
  }

  get freeSlots(): number {
    return this.slots.free;
  }

  /** Every task of `epoch` still held (running, or terminal and not yet retired), for a heartbeat. */
  statuses(epoch: bigint): TaskStatus[] {
    return [...this.tasks.values()].filter((t) => t.epoch === epoch).map(taskStatus);
  }

  /**
   * Cancels every task whose epoch matches and waits until all of them have stopped, or until `deadline` (a
   * monotonicNow() value): the tasks still running then are a fatal error. Never rejects.
   */
  async cancelWhere(matches: (epoch: bigint) => boolean, reason: string, deadline: number): Promise<void> {
    await this.stopAll(
      [...this.tasks.values()].filter((t) => matches(t.epoch)),
      reason,
      deadline,
    );
  }

  /** Forgets terminal tasks whose final state the leader has acknowledged (their ids stay known). */
  retire(executionIds: Iterable<string>): void {
    for (const id of executionIds) {
      const task = this.tasks.get(id);
      if (task && isTerminal(task.state)) this.forget(id);
    }
  }

  /** Forgets the terminal tasks of epochs below `epoch`: no later leader asks about them. */
  retireOlderThan(epoch: bigint): void {
    for (const [id, task] of this.tasks) {
      if (task.epoch < epoch && isTerminal(task.state)) this.forget(id);
    }
  }

  /**
   * Refuses deploys from now on, cancels every task and waits until all have stopped, at most `graceMs`: the
   * tasks still running then are a fatal error. Idempotent.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const reason = `taskmanager ${this.options.id} is shutting down`;
    await this.cancelWhere(() => true, reason, monotonicNow() + graceMs);
  }

  private checkOpen(what: string): void {
    const me = `taskmanager ${this.options.id}`;
    if (this.fatalError) {
      throw new UnavailableError(
        `${what}: ${me} takes no more tasks after a fatal error: ${this.fatalError.message}`,
      );
    }
    if (this.closing) throw new UnavailableError(`${what}: ${me} is shutting down`);
  }

  private checkNotCancelled(epoch: bigint, execution: string, what: string): void {
    if (!this.retired.cancelledBeforeDeploy(execution)) return;
    const detail = `execution ${execution} was cancelled before it was deployed; deploy a new attempt instead`;
    this.commands.reject("deploy", execution, epoch, "cancelled-before-deploy", detail);
    throw new CancelledError(`${what}: refused: ${detail}`);
  }

  /**
   * Aborts every task that is still running and waits until all have stopped or `deadline` passes; reports the
   * ones still running then as fatal. Resolves with every task among `tasks` that is known not to stop (late
   * now, or reported by an earlier wait, which this one does not wait for again).
   */
  private async stopAll(tasks: readonly Task[], reason: string, deadline: number): Promise<Task[]> {
    for (const task of tasks) this.lifecycle.cancel(task, reason);
    const start = monotonicNow();
    const late = await awaitStops(
      tasks.filter((t) => !t.fatal),
      (t) => t.stopped,
      deadline,
      start,
    );
    if (late.length > 0) {
      this.fatal(late, `${reason}: still running ${Math.round(deadline - start)} ms after the cancel`);
    }
    return tasks.filter((t) => t.fatal);
  }

  private fatal(tasks: readonly Task[], reason: string): void {
    for (const task of tasks) task.fatal = true;
    const executions = tasks.map((t) => t.descriptor.executionId);
    const error = new TaskCancellationTimeoutError(this.options.id, executions, reason);
    this.fatalError ??= error;
    this.options.logger.error(error.message, { executions });
    this.emit({ event: "fatal", reason, executions });
    try {
      this.options.onFatalError(error);
    } catch (e: unknown) {
      this.options.logger.error("fatal error handler threw", { error: describeCause(e) });
    }
  }

  /** A throwing sink must not leave a task's stop unreported or its `stopped` promise rejected. */
  private emit(event: VigilEvent): void {
    try {
      this.options.events(event);
    } catch (e: unknown) {
      this.options.logger.error("event sink threw", { event: event.event, error: describeCause(e) });
    }
  }

  private forget(executionId: string): void {
    this.tasks.delete(executionId);
    this.retired.remember(executionId, "stopped");
  }
}
