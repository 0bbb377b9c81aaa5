// The leader's resource manager for one leader session (Flink's ResourceManager plus the TaskExecutor
// gateways): registrations of TaskManagers, their slots, heartbeat-timeout detection, and the only path by
// which commands reach a TaskManager (listed in the `taskmanagers` registry first). It answers TaskManagers
// only while its session is valid (a TaskManager's task lease never outlives the session by more than the
// heartbeat timeout), and sends a command only after a synchronous session check: a revoked leader sends
// nothing. Calls in flight to a TaskManager end as soon as its registration does.
import { randomUUID } from "node:crypto";
import { monotonicNow } from "../common/clock.ts";
import { InvalidArgumentError, NotLeaderError, StaleFenceError, UnavailableError } from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CheckpointAck,
  CheckpointDecline,
  ExecutionState,
  HeartbeatResponse,
  RegisterTaskManagerRequest,
  RegisterTaskManagerResponse,
  TaskDescriptor,
  TaskManagerHeartbeat,
  TaskManagerSummary,
  TaskStateAck,
  TaskStateUpdate,
} from "../generated/records.ts";
import type { ResourceManagerService } from "../generated/services.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import { type CallOptions, DEFAULT_CALL_TIMEOUT_MS } from "../rpc/call.ts";
import { type Registration, Registrations, type TaskExecutorClient } from "./registrations.ts";
import type { RegistryWriter } from "./registry-writer.ts";
import { isTerminal, type Placement, SlotPool, type SlotRequest } from "./slot-pool.ts";

export type { TaskExecutorClient } from "./registrations.ts";

export interface ResourceManagerOptions {
  readonly session: LeaderSession;
  readonly name: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  /** This session's writes to the TaskManager registry. */
  readonly registry: RegistryWriter;
  readonly connect: (address: string) => TaskExecutorClient;
  readonly events: EventSink;
  readonly logger: Logger;
  /** A TaskManager registered, or slots became free: waiting jobs may proceed. */
  readonly onResourcesChanged: () => void;
  /**
   * A checkpoint ack or decline from a registered TaskManager of this epoch, for the job's checkpoint
   * coordinator. Without one they are dropped, as acks of an unknown checkpoint are.
   */
  readonly onCheckpointMessage?: (message: CheckpointMessage) => void;
}

export type CheckpointMessage =
  | { readonly kind: "ack"; readonly ack: CheckpointAck }
  | { readonly kind: "decline"; readonly decline: CheckpointDecline };

export class ResourceManager implements ResourceManagerService {
  private readonly session: LeaderSession;
  private readonly epoch: bigint;
  private readonly slots = new SlotPool();
  private readonly registrations = new Registrations();
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private checker: NodeJS.Timeout | undefined;

  constructor(private readonly options: ResourceManagerOptions) {
    this.session = options.session;
    this.epoch = options.session.epoch;
    this.signal = AbortSignal.any([options.session.signal, this.controller.signal]);
  }

  /** Starts heartbeat-timeout detection. */
  start(): void {
    const every = Math.max(
      10,
      Math.min(this.options.heartbeatIntervalMs, this.options.heartbeatTimeoutMs / 4),
    );
    this.checker = setInterval(() => this.dropSilentTaskManagers(), every);
  }

  /** The session ended: no more answers or commands; clients closed, the table cleared. Idempotent. */
  close(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(new NotLeaderError(undefined));
    clearInterval(this.checker);
    this.registrations.clear(new NotLeaderError(undefined));
    this.slots.clear();
  }

  async registerTaskManager(request: RegisterTaskManagerRequest): Promise<RegisterTaskManagerResponse> {
    this.assertActive();
    const { taskmanagerId: id, address, slots } = request;
    if (request.epoch !== this.epoch) {
      throw new StaleFenceError(
        request.epoch,
        `register taskmanager ${id} with the leader of epoch ${this.epoch}`,
      );
    }
    if (id === "" || address === "" || slots < 1) {
      throw new InvalidArgumentError(
        `register taskmanager: needs an id, an address and at least one slot (got id ${JSON.stringify(id)}, address ${JSON.stringify(address)}, ${slots} slots)`,
      );
    }
    const previous = this.registrations.of(id);
    // A TaskManager registers again only after it stopped the tasks of its earlier registration (lease lost
    // or restarted): they count as failed.
    if (previous) this.drop(previous, "re-registered; the tasks of its earlier registration are gone", false);
    const registration: Registration = {
      taskmanagerId: id,
      registrationId: randomUUID(),
      address,
      client: this.options.connect(address),
      ended: new AbortController(),
      lastHeartbeat: monotonicNow(),
    };
    this.registrations.add(registration);
    this.slots.addTaskManager(id, registration.registrationId, slots);
    this.options.logger.info("taskmanager registered", {
      taskmanager: id,
      address,
      slots,
      epoch: this.epoch,
    });
    this.options.events({
      event: "taskmanager-registered",
      taskmanager: id,
      address,
      slots,
      epoch: this.epoch,
    });
    this.options.onResourcesChanged();
    return {
      epoch: this.epoch,
      jobmanagerName: this.options.name,
      registrationId: registration.registrationId,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
    };
  }

  async heartbeat(request: TaskManagerHeartbeat): Promise<HeartbeatResponse> {
    this.assertActive();
    const r = this.registrationOf(request.taskmanagerId, request.registrationId, request.epoch);
    if (!r) return { epoch: this.epoch, registered: false };
    r.lastHeartbeat = monotonicNow();
    let freed = false;
    for (const task of request.tasks) {
      freed = this.slots.report(r.registrationId, task) || freed;
      if (!isTerminal(task.state) && this.isStray(r, task.executionId)) this.cancelStray(r, task.executionId);
    }
    if (freed) this.options.onResourcesChanged();
    return { epoch: this.epoch, registered: true };
  }

  async updateTaskState(request: TaskStateUpdate): Promise<TaskStateAck> {
    this.assertActive();
    const r = this.registrationOf(request.taskmanagerId, request.registrationId, request.epoch);
    // An update of an unknown registration is stale: the TaskManager hears registered=false at its next
    // heartbeat and registers again.
    if (r && request.task && this.slots.report(r.registrationId, request.task))
      this.options.onResourcesChanged();
    return {};
  }

  async acknowledgeCheckpoint(request: CheckpointAck): Promise<TaskStateAck> {
    this.assertActive();
    if (this.registrationOf(request.taskmanagerId, request.registrationId, request.epoch))
      this.options.onCheckpointMessage?.({ kind: "ack", ack: request });
    return {};
  }

  async declineCheckpoint(request: CheckpointDecline): Promise<TaskStateAck> {
    this.assertActive();
    if (this.registrationOf(request.taskmanagerId, request.registrationId, request.epoch))
      this.options.onCheckpointMessage?.({ kind: "decline", decline: request });
    return {};
  }

  /** Every registered TaskManager, by id. */
  taskManagers(): TaskManagerSummary[] {
    return this.registrations
      .all()
      .map((r) => {
        const { slots, free } = this.slots.slotsOf(r.taskmanagerId);
        return { id: r.taskmanagerId, address: r.address, slots, freeSlots: free };
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** host:port of a registered TaskManager. */
  addressOf(taskmanagerId: string): string | undefined {
    return this.registrations.of(taskmanagerId)?.address;
  }

  /**
   * Sends a checkpoint command to the TaskManager running `executionId`, with this leader's epoch. Rejects,
   * sending nothing, when the session or the execution's TaskManager is gone.
   */
  async checkpointCommand(
    executionId: string,
    send: (client: TaskExecutorClient, epoch: bigint, options: CallOptions) => Promise<unknown>,
  ): Promise<void> {
    const r = this.current(this.placed(executionId));
    this.assertActive();
    await send(r.client, this.epoch, this.callOptions(r));
  }

  isRegistered(taskmanagerId: string): boolean {
    return this.registrations.of(taskmanagerId) !== undefined;
  }

  /** All requests placed in free slots, or none (undefined). See SlotPool.allocate. */
  allocate(requests: readonly SlotRequest[]): Placement[] | undefined {
    if (this.signal.aborted) return undefined;
    return this.slots.allocate(requests);
  }

  /** True while the execution holds a slot (not yet known to have stopped). */
  holds(executionId: string): boolean {
    return this.slots.placement(executionId) !== undefined;
  }

  /**
   * Deploys a placed execution: lists its TaskManager in the registry first (fenced), then sends the command
   * with this leader's epoch. Rejects, sending nothing, when the session is gone, when the TaskManager is
   * gone, or when the execution no longer holds its slot; otherwise with the TaskManager's answer.
   */
  async deploy(task: Omit<TaskDescriptor, "slot" | "epoch">): Promise<void> {
    const p = this.placed(task.executionId);
    await this.options.registry.ensureListed(p.taskmanagerId);
    // The registry write took time: a restart may have cancelled this execution and given its slot to the
    // next attempt, or its TaskManager may have gone. Either way this deploy is stale.
    if (this.slots.placement(task.executionId) !== p) {
      throw new UnavailableError(
        `execution ${task.executionId} no longer holds slot ${p.slot} of taskmanager ${p.taskmanagerId} (cancelled, or its taskmanager lost, while the taskmanager was being listed); not deployed`,
      );
    }
    const r = this.current(p);
    this.assertActive();
    await r.client.deployTask(
      {
        epoch: this.epoch,
        registrationId: r.registrationId,
        task: { ...task, slot: p.slot, epoch: this.epoch },
      },
      this.callOptions(r),
    );
    // Leader actions are reported only while the session holds; a deploy answered after that (a resumed
    // zombie) is on record at the TaskManager (task-running, with the epoch).
    if (!this.session.isValid()) return;
    this.options.events({
      event: "task-deployed",
      job: task.jobId,
      execution: task.executionId,
      vertex: task.chain[0]?.id ?? "",
      subtask: task.subtask,
      attempt: task.attempt,
      taskmanager: p.taskmanagerId,
      epoch: this.epoch,
      // The completed checkpoint the task restores from; 0 when it starts empty.
      checkpoint: task.restoredCheckpointId,
    });
  }

  /** Cancels an execution that holds a slot; its observer hears the TaskManager's answer. */
  async cancel(executionId: string): Promise<void> {
    const p = this.slots.placement(executionId);
    if (!p) return;
    const r = this.current(p);
    this.assertActive();
    const { state } = await r.client.cancelTask({ epoch: this.epoch, executionId }, this.callOptions(r));
    this.report(r, executionId, state);
  }

  /**
   * A task of this epoch that the TaskManager runs but that holds no slot here: its deploy arrived after it
   * was cancelled (the cancel of an unknown execution answers CANCELED). Older epochs' tasks are the
   * TaskManager's own business.
   */
  private isStray(r: Registration, executionId: string): boolean {
    const p = this.slots.placement(executionId);
    return executionId.endsWith(`@${this.epoch}`) && p?.registrationId !== r.registrationId;
  }

  private cancelStray(r: Registration, executionId: string): void {
    this.options.logger.warn("cancelling a task that holds no slot", {
      taskmanager: r.taskmanagerId,
      executionId,
    });
    r.client.cancelTask({ epoch: this.epoch, executionId }, this.callOptions(r)).catch((e: unknown) =>
      this.options.logger.debug("cancel of a stray task failed; the next heartbeat retries", {
        executionId,
        error: e instanceof Error ? e.message : String(e),
      }),
    );
  }

  private report(r: Registration, executionId: string, state: ExecutionState): void {
    const status = { executionId, state, records: 0n, error: "" };
    if (this.slots.report(r.registrationId, status)) this.options.onResourcesChanged();
  }

  private placed(executionId: string): Placement {
    const p = this.slots.placement(executionId);
    if (!p) throw new UnavailableError(`execution ${executionId} holds no slot (its taskmanager is gone)`);
    return p;
  }

  private current(p: Placement): Registration {
    const r = this.registrations.of(p.taskmanagerId);
    if (r?.registrationId !== p.registrationId) {
      throw new UnavailableError(`taskmanager ${p.taskmanagerId} of execution ${p.executionId} is gone`);
    }
    return r;
  }

  /** A call to `r` ends when the session or the registration does, or at its deadline. */
  private callOptions(r: Registration): CallOptions {
    return { signal: AbortSignal.any([this.signal, r.ended.signal]), timeoutMs: DEFAULT_CALL_TIMEOUT_MS };
  }

  private registrationOf(id: string, registrationId: string, epoch: bigint): Registration | undefined {
    return epoch === this.epoch ? this.registrations.named(id, registrationId) : undefined;
  }

  private assertActive(): void {
    if (this.signal.aborted || !this.session.isValid()) throw new NotLeaderError(undefined);
  }

  private dropSilentTaskManagers(): void {
    if (!this.session.isValid()) return;
    const now = monotonicNow();
    for (const r of this.registrations.all()) {
      const silent = now - r.lastHeartbeat;
      if (silent > this.options.heartbeatTimeoutMs) {
        this.drop(
          r,
          `no heartbeat for ${Math.round(silent)} ms (timeout ${this.options.heartbeatTimeoutMs} ms)`,
          true,
        );
      }
    }
  }

  /**
   * Forgets a registration; its executions fail. `unlist`: the TaskManager timed out, so its task lease of
   * this epoch has run out too and a later leader need not wait for it.
   */
  private drop(r: Registration, reason: string, unlist: boolean): void {
    this.registrations.remove(r, new UnavailableError(`taskmanager ${r.taskmanagerId} lost: ${reason}`));
    this.options.logger.warn("taskmanager lost", { taskmanager: r.taskmanagerId, reason, epoch: this.epoch });
    this.options.events({
      event: "taskmanager-lost",
      taskmanager: r.taskmanagerId,
      reason,
      epoch: this.epoch,
    });
    this.slots.removeTaskManager(r.taskmanagerId, `taskmanager ${r.taskmanagerId} lost: ${reason}`);
    if (unlist) {
      this.options.registry.unlist([r.taskmanagerId]).catch((e: unknown) => {
        if (this.session.isValid()) {
          this.options.logger.warn("could not unlist a lost taskmanager from the registry", {
            taskmanager: r.taskmanagerId,
            error: e instanceof Error ? e.message : String(e),
          });
        }
      });
    }
    this.options.onResourcesChanged();
  }
}

/**
 * The ResourceManager service this JobManager serves: the current leader's, or NotLeaderError (with the
 * leader's address) from `current` on a standby.
 */
export function resourceManagerEndpoint(current: () => ResourceManager): ResourceManagerService {
  return {
    registerTaskManager: async (request) => current().registerTaskManager(request),
    heartbeat: async (request) => current().heartbeat(request),
    updateTaskState: async (request) => current().updateTaskState(request),
    acknowledgeCheckpoint: async (request) => current().acknowledgeCheckpoint(request),
    declineCheckpoint: async (request) => current().declineCheckpoint(request),
  };
}
