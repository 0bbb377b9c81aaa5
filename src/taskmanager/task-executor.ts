// The TaskExecutor service of one TaskManager: the leader's commands (deploy, cancel) land here. Each command
// passes the epoch fence first (a deposed leader is refused, with evidence), then must belong to the current
// registration; tasks run through an injected runner with an AbortController, hold their slot until their code
// has really stopped, and report every state change through a callback.
import { CancelledError, describeCause, InvalidArgumentError, UnavailableError } from "../common/errors.ts";
import type { EventSink, VigilEvent } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CancelTaskRequest,
  CancelTaskResponse,
  DeployTaskRequest,
  DeployTaskResponse,
  ExecutionState,
  TaskDescriptor,
  TaskStatus,
} from "../generated/records.ts";
import type { TaskExecutorService } from "../generated/services.ts";
import type { CallOptions } from "../rpc/call.ts";
import type { TaskContext } from "../runtime/task.ts";
import { boundedCall } from "./bounded-call.ts";
import type { EpochFence } from "./epoch-fence.ts";
import { type Registration, RegistrationFenceError } from "./registration.ts";
import { SlotTable } from "./slots.ts";

export type TaskRunner = (context: TaskContext) => Promise<void>;

/** A task's new status, with the epoch of the leader that deployed it. */
export interface TaskStateChange {
  readonly epoch: bigint;
  readonly status: TaskStatus;
}

export interface TaskExecutorOptions {
  /** This TaskManager's id, for messages. */
  readonly id: string;
  readonly slots: number;
  readonly storageDir: string | undefined;
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
  readonly logger: Logger;
  readonly events: EventSink;
}

type Terminal = "FINISHED" | "CANCELED" | "FAILED";

interface Task {
  readonly descriptor: TaskDescriptor;
  readonly epoch: bigint;
  readonly controller: AbortController;
  state: ExecutionState;
  records: bigint;
  error: string;
  /** Resolves once the task's code has stopped and its slot is free; never rejects. */
  stopped: Promise<void>;
}

/** Execution ids kept after a terminal task was reported, so that a retried deploy never runs it again. */
const RETIRED_LIMIT = 4_096;

function isTerminal(state: ExecutionState): boolean {
  return (
    state === "EXECUTION_STATE_FINISHED" ||
    state === "EXECUTION_STATE_CANCELED" ||
    state === "EXECUTION_STATE_FAILED"
  );
}

export class TaskExecutor implements TaskExecutorService {
  readonly slots: SlotTable;
  private readonly tasks = new Map<string, Task>();
  private readonly retired = new Set<string>();
  private closing = false;

  constructor(private readonly options: TaskExecutorOptions) {
    this.slots = new SlotTable(options.slots, options.id);
  }

  /**
   * Starts the task in its slot. Idempotent on the execution id (a known execution answers at once and is not
   * run again). Refuses: a stale epoch (StaleEpochError, event command-rejected); an epoch or registration id
   * that is not the current registration's (RegistrationFenceError, event command-rejected); a slot out of
   * range (InvalidArgumentError) or taken (AlreadyExistsError); any deploy once closing (UnavailableError).
   */
  async deployTask(request: DeployTaskRequest, options?: CallOptions): Promise<DeployTaskResponse> {
    const task = request.task;
    if (!task || task.executionId === "") {
      throw new InvalidArgumentError(
        `deploy to taskmanager ${this.options.id}: the request carries no task; send a TaskDescriptor with an execution id`,
      );
    }
    const what = `deploy ${task.executionId}`;
    this.checkEpoch("deploy", task.executionId, request.epoch, what);
    if (this.closing) throw new UnavailableError(`${what}: taskmanager ${this.options.id} is shutting down`);
    if (!this.fromCurrentRegistration(request)) {
      // The leader may deploy as soon as it has answered our registration, and its deploy can overtake that
      // answer (two connections): let a registration with its epoch that is still in flight settle first.
      await this.options.awaitRegistration(request.epoch, options?.signal);
      this.checkEpoch("deploy", task.executionId, request.epoch, what);
      if (this.closing)
        throw new UnavailableError(`${what}: taskmanager ${this.options.id} is shutting down`);
    }
    this.checkRegistration(request, task.executionId, what);
    if (this.tasks.has(task.executionId) || this.retired.has(task.executionId)) return {};
    const head = task.chain[0];
    if (!head) throw new InvalidArgumentError(`${what}: the task's chain has no vertex`);
    this.slots.reserve(task.slot, task.executionId);
    this.run(task, request.epoch);
    return {};
  }

  /**
   * Cancels the task and answers once its code has stopped, with its final state (CANCELED, or FINISHED /
   * FAILED when it ended first). An unknown execution answers CANCELED. A stale epoch is refused like a deploy.
   */
  async cancelTask(request: CancelTaskRequest, options?: CallOptions): Promise<CancelTaskResponse> {
    const what = `cancel ${request.executionId}`;
    this.checkEpoch("cancel", request.executionId, request.epoch, what);
    const task = this.tasks.get(request.executionId);
    if (!task) return { state: "EXECUTION_STATE_CANCELED" };
    const reason = `cancelled by the leader of epoch ${request.epoch}`;
    if (options?.signal) {
      await boundedCall(() => this.cancel(task, reason), { signal: options.signal, what });
    } else {
      await this.cancel(task, reason);
    }
    return { state: task.state };
  }

  get freeSlots(): number {
    return this.slots.free;
  }

  /** Every task of `epoch` still held (running, or terminal and not yet retired), for a heartbeat. */
  statuses(epoch: bigint): TaskStatus[] {
    return [...this.tasks.values()].filter((t) => t.epoch === epoch).map((t) => this.status(t));
  }

  /** Cancels every task whose epoch matches and waits until all of them have stopped. Never rejects. */
  async cancelWhere(matches: (epoch: bigint) => boolean, reason: string): Promise<void> {
    const doomed = [...this.tasks.values()].filter((t) => matches(t.epoch));
    await Promise.all(doomed.map((t) => this.cancel(t, reason)));
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

  /** Refuses deploys from now on, cancels every task and waits until all have stopped. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await this.cancelWhere(() => true, `taskmanager ${this.options.id} is shutting down`);
  }

  private checkEpoch(command: "deploy" | "cancel", execution: string, epoch: bigint, what: string): void {
    try {
      this.options.fence.check(epoch, what);
    } catch (e: unknown) {
      this.reject(command, execution, epoch, "stale-epoch", describeCause(e));
      throw e;
    }
  }

  private fromCurrentRegistration(request: DeployTaskRequest): boolean {
    const current = this.options.registration();
    return current?.epoch === request.epoch && current.registrationId === request.registrationId;
  }

  private checkRegistration(request: DeployTaskRequest, execution: string, what: string): void {
    if (this.fromCurrentRegistration(request)) return;
    const current = this.options.registration();
    const me = `taskmanager ${this.options.id}`;
    const [reason, detail] = !current
      ? ["not-registered", `${me} is not registered with any leader now (it is registering)`]
      : current.epoch !== request.epoch
        ? [
            "not-registered",
            `${me} is not registered with the leader of epoch ${request.epoch} (its registration is with epoch ${current.epoch}); it registers with the newest leader it learns of`,
          ]
        : [
            "registration-mismatch",
            `registration ${JSON.stringify(request.registrationId)} is not the current registration ${JSON.stringify(current.registrationId)} of ${me}`,
          ];
    this.reject("deploy", execution, request.epoch, reason, detail);
    throw new RegistrationFenceError(request.epoch, request.registrationId, what, detail);
  }

  private reject(command: string, execution: string, epoch: bigint, reason: string, message: string): void {
    const highest = this.options.fence.highest;
    this.options.logger.warn(`refused ${command} ${execution}: ${message}`, { epoch, highest });
    this.emit({ event: "command-rejected", command, execution, epoch, highest, reason });
  }

  private run(descriptor: TaskDescriptor, epoch: bigint): void {
    const controller = new AbortController();
    const task: Task = {
      descriptor,
      epoch,
      controller,
      state: "EXECUTION_STATE_RUNNING",
      records: 0n,
      error: "",
      stopped: Promise.resolve(),
    };
    this.tasks.set(descriptor.executionId, task);
    const context: TaskContext = {
      task: descriptor,
      signal: controller.signal,
      storageDir: this.options.storageDir,
      onRecords: (total) => {
        if (Number.isFinite(total) && total >= 0) task.records = BigInt(Math.trunc(total));
      },
    };
    let running: Promise<void>;
    try {
      running = this.options.runTask(context);
    } catch (e: unknown) {
      running = Promise.reject(e);
    }
    this.options.logger.info("task running", { execution: descriptor.executionId, epoch });
    this.emit({ event: "task-running", ...this.identity(task) });
    this.changed(task);
    task.stopped = running.then(
      () => this.stopped(task, "FINISHED"),
      (e: unknown) =>
        controller.signal.aborted ? this.stopped(task, "CANCELED") : this.stopped(task, "FAILED", e),
    );
  }

  private async cancel(task: Task, reason: string): Promise<void> {
    if (!isTerminal(task.state) && !task.controller.signal.aborted) {
      task.state = "EXECUTION_STATE_CANCELING";
      task.controller.abort(new CancelledError(`task ${task.descriptor.executionId}: ${reason}`));
      this.changed(task);
    }
    await task.stopped;
  }

  private stopped(task: Task, state: Terminal, cause?: unknown): void {
    task.state = `EXECUTION_STATE_${state}`;
    if (state === "FAILED") task.error = describeCause(cause);
    this.slots.release(task.descriptor.slot, task.descriptor.executionId);
    const fields = { execution: task.descriptor.executionId, epoch: task.epoch, state };
    if (state === "FAILED") this.options.logger.warn("task failed", { ...fields, error: task.error });
    else this.options.logger.info("task stopped", fields);
    this.emit({
      event: "task-stopped",
      ...this.identity(task),
      state,
      ...(state === "FAILED" ? { error: task.error } : {}),
    });
    this.changed(task);
  }

  /** The fields task-running and task-stopped share (epoch last, as in the design). */
  private identity(task: Task): Record<string, unknown> {
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

  /** A throwing sink must not leave a task's stop unreported or its `stopped` promise rejected. */
  private emit(event: VigilEvent): void {
    try {
      this.options.events(event);
    } catch (e: unknown) {
      this.options.logger.error("event sink threw", { event: event.event, error: describeCause(e) });
    }
  }

  private changed(task: Task): void {
    try {
      this.options.onStateChange({ epoch: task.epoch, status: this.status(task) });
    } catch (e: unknown) {
      this.options.logger.error("task state listener threw", { error: describeCause(e) });
    }
  }

  private status(task: Task): TaskStatus {
    return {
      executionId: task.descriptor.executionId,
      state: task.state,
      records: task.records,
      error: task.error,
    };
  }

  private forget(executionId: string): void {
    this.tasks.delete(executionId);
    this.retired.add(executionId);
    if (this.retired.size > RETIRED_LIMIT) {
      const oldest = this.retired.values().next();
      if (!oldest.done) this.retired.delete(oldest.value);
    }
  }
}
