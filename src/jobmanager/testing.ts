// Test doubles for the JobManager's unit tests (no test framework imports here): in-process fake
// TaskManagers that follow the leader through leader retrieval, register, heartbeat, hold a task lease and
// record every command they receive, and a cluster of JobManagerCores on one MemoryCoordinator.
import { monotonicNow, sleep } from "../common/clock.ts";
import { AlreadyExistsError, NotLeaderError, StaleEpochError, UnavailableError } from "../common/errors.ts";
import { RecordedEvents, type VigilEvent } from "../common/events.ts";
import { silentLogger } from "../common/logger.ts";
import type { HaConfig } from "../config/ha-config.ts";
import type {
  CancelTaskRequest,
  CancelTaskResponse,
  CheckpointCommandResponse,
  CheckpointNotification,
  DeployTaskRequest,
  DeployTaskResponse,
  ExecutionState,
  JobGraph,
  OperatorSubtaskState,
  TaskDescriptor,
  TaskStatus,
  TriggerCheckpointRequest,
} from "../generated/records.ts";
import type { ResourceManagerService, TaskExecutorService } from "../generated/services.ts";
import type { LeaderInfo } from "../ha/election-driver.ts";
import { JOBMANAGER_ELECTION } from "../ha/keys.ts";
import { LeaderRetrievalService } from "../ha/leader-retrieval-service.ts";
import { MemoryCoordinator, MemoryHaBackend } from "../ha/memory/index.ts";
import { JobManagerCore } from "./jobmanager-core.ts";
import type { TaskExecutorClient } from "./resource-manager.ts";
import { isTerminal } from "./slot-pool.ts";

export interface FakeCommand {
  readonly kind: "deploy" | "cancel" | "trigger" | "notify" | "abort";
  readonly epoch: bigint;
  readonly executionId: string;
  /** Position in the cluster-wide sequence of commands and marks (see TestCluster.mark). */
  readonly seq: number;
  /** Checkpoint commands: which checkpoint. */
  readonly checkpointId?: bigint;
}

interface FakeTask {
  readonly descriptor: TaskDescriptor;
  readonly epoch: bigint;
  readonly slot: number;
  state: ExecutionState;
  error: string;
}

interface Registration {
  readonly epoch: bigint;
  readonly registrationId: string;
  readonly rm: ResourceManagerService;
  readonly timeoutMs: number;
  leaseUntil: number;
}

export class FakeTaskManager implements TaskExecutorService {
  readonly commands: FakeCommand[] = [];
  readonly tasks = new Map<string, FakeTask>();
  /** Deployed tasks report RUNNING at once unless false. */
  autoRun = true;
  /** How long this TaskManager takes to register with a new leader (a slow one). */
  registerDelayMs = 0;
  /** Called synchronously as each command arrives (tests inspect the world at that instant). */
  onCommand: (command: FakeCommand) => void = () => {};
  private highest = 0n;
  private leader: LeaderInfo | undefined;
  private registration: Registration | undefined;
  private alive = true;
  private heartbeats: NodeJS.Timeout | undefined;
  private retrieval: LeaderRetrievalService | undefined;
  private readonly backend: MemoryHaBackend;

  constructor(
    readonly id: string,
    readonly address: string,
    readonly slots: number,
    private readonly cluster: TestCluster,
  ) {
    this.backend = new MemoryHaBackend(cluster.coordinator, cluster.ha);
  }

  get registeredEpoch(): bigint | undefined {
    return this.registration?.epoch;
  }

  async start(): Promise<void> {
    this.retrieval = new LeaderRetrievalService(this.backend.createRetrievalDriver(JOBMANAGER_ELECTION));
    await this.retrieval.start({ notifyLeader: (info) => this.onLeader(info) });
    this.heartbeats = setInterval(() => void this.heartbeat(), this.cluster.heartbeatIntervalMs);
  }

  /** The process dies: no more heartbeats, every call to it fails. */
  async kill(): Promise<void> {
    this.alive = false;
    clearInterval(this.heartbeats);
    await this.retrieval?.close();
    await this.backend.close();
  }

  running(epoch?: bigint): string[] {
    return [...this.tasks]
      .filter(([, t]) => t.state === "EXECUTION_STATE_RUNNING" && (epoch === undefined || t.epoch === epoch))
      .map(([id]) => id);
  }

  finish(executionId: string): void {
    void this.setState(executionId, "EXECUTION_STATE_FINISHED", "");
  }

  fail(executionId: string, error = "injected failure"): void {
    void this.setState(executionId, "EXECUTION_STATE_FAILED", error);
  }

  async deployTask(request: DeployTaskRequest): Promise<DeployTaskResponse> {
    const task = request.task!;
    this.receive("deploy", request.epoch, task.executionId);
    const r = this.registration;
    if (!r || request.epoch !== r.epoch || request.registrationId !== r.registrationId) {
      throw new NotLeaderError(undefined);
    }
    if (this.tasks.has(task.executionId)) return {};
    for (const t of this.tasks.values()) {
      if (t.slot === task.slot && !isTerminal(t.state)) throw new AlreadyExistsError(`slot ${task.slot}`);
    }
    this.tasks.set(task.executionId, {
      descriptor: task,
      epoch: request.epoch,
      slot: task.slot,
      state: "EXECUTION_STATE_DEPLOYING",
      error: "",
    });
    // The worst order for the leader: the RUNNING report arrives before the deploy's answer.
    if (this.autoRun) await this.setState(task.executionId, "EXECUTION_STATE_RUNNING", "");
    return {};
  }

  async cancelTask(request: CancelTaskRequest): Promise<CancelTaskResponse> {
    this.receive("cancel", request.epoch, request.executionId);
    const t = this.tasks.get(request.executionId);
    if (!t) return { state: "EXECUTION_STATE_CANCELED" };
    if (!isTerminal(t.state)) void this.setState(request.executionId, "EXECUTION_STATE_CANCELED", "");
    return { state: t.state };
  }

  /**
   * A trigger reaches a source task: as if its barrier flowed through the job, every running task of that
   * job and epoch in the cluster acknowledges (one state-less entry per operator), unless acks are off.
   */
  async triggerCheckpoint(request: TriggerCheckpointRequest): Promise<CheckpointCommandResponse> {
    this.receive("trigger", request.epoch, request.executionId, request.checkpointId);
    if (!this.tasks.has(request.executionId)) throw new UnavailableError(`no task ${request.executionId}`);
    const job = request.executionId.slice(0, request.executionId.indexOf("/"));
    for (const tm of this.cluster.taskManagers.values()) {
      if (tm.acknowledgeCheckpoints) tm.acknowledgeJob(job, request.epoch, request.checkpointId);
    }
    return {};
  }

  async notifyCheckpointComplete(request: CheckpointNotification): Promise<CheckpointCommandResponse> {
    this.receive("notify", request.epoch, request.executionId, request.checkpointId);
    return {};
  }

  async abortCheckpoint(request: CheckpointNotification): Promise<CheckpointCommandResponse> {
    this.receive("abort", request.epoch, request.executionId, request.checkpointId);
    return {};
  }

  /** Tasks acknowledge checkpoints (see triggerCheckpoint) unless false. */
  acknowledgeCheckpoints = true;
  private readonly acked = new Set<string>();

  /** The descriptors of every task deployed here, in deploy order. */
  descriptors(): TaskDescriptor[] {
    return [...this.tasks.values()].map((t) => t.descriptor);
  }

  private acknowledgeJob(job: string, epoch: bigint, checkpointId: bigint): void {
    const r = this.registration;
    if (!r || r.epoch !== epoch || !this.alive) return;
    for (const [id, t] of this.tasks) {
      if (!id.startsWith(`${job}/`) || t.epoch !== epoch || t.state !== "EXECUTION_STATE_RUNNING") continue;
      const key = `${id}#${checkpointId}`;
      if (this.acked.has(key)) continue;
      this.acked.add(key);
      const d = t.descriptor;
      const states: OperatorSubtaskState[] = d.chain.map((v) => ({
        operatorUid: v.id,
        subtask: d.subtask,
        parallelism: d.parallelism,
      }));
      void r.rm
        .acknowledgeCheckpoint({
          taskmanagerId: this.id,
          registrationId: r.registrationId,
          epoch,
          executionId: id,
          checkpointId,
          states,
        })
        .catch(() => undefined);
    }
  }

  private receive(
    kind: FakeCommand["kind"],
    epoch: bigint,
    executionId: string,
    checkpointId?: bigint,
  ): void {
    if (!this.alive) throw new UnavailableError(`taskmanager ${this.id} is down`);
    const command: FakeCommand = {
      kind,
      epoch,
      executionId,
      seq: this.cluster.nextSeq(),
      ...(checkpointId !== undefined && { checkpointId }),
    };
    this.commands.push(command);
    this.onCommand(command);
    if (epoch < this.highest) throw new StaleEpochError(epoch, this.highest, `${kind} ${executionId}`);
  }

  /** Changes a task's state and reports it; resolves once the leader answered (or did not). */
  private async setState(executionId: string, state: ExecutionState, error: string): Promise<void> {
    const t = this.tasks.get(executionId);
    if (!t || isTerminal(t.state)) return;
    t.state = state;
    t.error = error;
    const r = this.registration;
    if (!r || r.epoch !== t.epoch || !this.alive) return;
    await r.rm
      .updateTaskState({
        taskmanagerId: this.id,
        registrationId: r.registrationId,
        epoch: r.epoch,
        task: this.status(executionId, t),
      })
      .then(
        () => undefined,
        () => undefined, // repeated in the next heartbeat
      );
  }

  private status(executionId: string, t: FakeTask): TaskStatus {
    return { executionId, state: t.state, records: 0n, error: t.error };
  }

  private onLeader(info: LeaderInfo | undefined): void {
    this.leader = info;
    if (!info || info.epoch <= this.highest) return;
    this.highest = info.epoch;
    this.stopTasksBefore(info.epoch);
    this.registration = undefined;
    void this.register(info);
  }

  /** The task lease's rule: tasks of older epochs stop before we register with a newer leader. */
  private stopTasksBefore(epoch: bigint): void {
    for (const [id, t] of this.tasks)
      if (t.epoch < epoch && !isTerminal(t.state)) void this.setState(id, "EXECUTION_STATE_CANCELED", "");
  }

  private async register(info: LeaderInfo): Promise<void> {
    if (this.registerDelayMs > 0) await sleep(this.registerDelayMs);
    for (
      let delay = 10;
      this.alive && this.leader === info && !this.registration;
      delay = Math.min(delay * 2, 100)
    ) {
      const rm = this.cluster.resourceManagerAt(info.address);
      const sentAt = monotonicNow();
      try {
        if (!rm) throw new UnavailableError(`no jobmanager at ${info.address}`);
        const answer = await rm.registerTaskManager({
          taskmanagerId: this.id,
          address: this.address,
          slots: this.slots,
          epoch: info.epoch,
        });
        if (this.leader !== info || !this.alive) return;
        this.registration = {
          epoch: answer.epoch,
          registrationId: answer.registrationId,
          rm,
          timeoutMs: answer.heartbeatTimeoutMs,
          leaseUntil: sentAt + answer.heartbeatTimeoutMs,
        };
        return;
      } catch {
        await sleep(delay);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const r = this.registration;
    if (!r || !this.alive) return;
    if (monotonicNow() >= r.leaseUntil) {
      // The lease ran out: stop this epoch's tasks, then register again.
      for (const t of this.tasks.values())
        if (t.epoch === r.epoch && !isTerminal(t.state)) t.state = "EXECUTION_STATE_CANCELED";
      this.registration = undefined;
      if (this.leader) void this.register(this.leader);
      return;
    }
    const sentAt = monotonicNow();
    try {
      const answer = await r.rm.heartbeat({
        taskmanagerId: this.id,
        registrationId: r.registrationId,
        epoch: r.epoch,
        tasks: [...this.tasks].filter(([, t]) => t.epoch === r.epoch).map(([id, t]) => this.status(id, t)),
        freeSlots: this.slots - [...this.tasks.values()].filter((t) => !isTerminal(t.state)).length,
      });
      if (this.registration !== r) return;
      if (answer.registered) r.leaseUntil = sentAt + r.timeoutMs;
      else {
        this.registration = undefined;
        if (this.leader) void this.register(this.leader);
      }
    } catch {
      // No answer: the lease is not extended.
    }
  }
}

export const TEST_HA: HaConfig = {
  backend: "memory",
  endpoints: [],
  clusterId: "test",
  ttlMs: 1_000,
  safetyMarginMs: 30,
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 1_000,
};

export interface TestJobManager {
  readonly name: string;
  readonly address: string;
  readonly core: JobManagerCore;
  readonly events: RecordedEvents;
  /** Monotonic time at which each event was emitted. */
  readonly times: Map<VigilEvent, number>;
}

/** JobManagerCores and fake TaskManagers on one MemoryCoordinator, wired in-process by address. */
export class TestCluster {
  readonly coordinator = new MemoryCoordinator();
  readonly ha = TEST_HA;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly jobManagers = new Map<string, TestJobManager>();
  readonly taskManagers = new Map<string, FakeTaskManager>();
  private seq = 0;

  /** file:///… shared by the JobManagers (checkpoints, artifacts); none unless given. */
  readonly storageDir: string | undefined;

  constructor(
    options: {
      readonly heartbeatIntervalMs?: number;
      readonly heartbeatTimeoutMs?: number;
      readonly storageDir?: string;
    } = {},
  ) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 50;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 200;
    this.storageDir = options.storageDir;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** A point in the sequence of commands: commands received after it have a higher seq. */
  mark(): number {
    return this.nextSeq();
  }

  /** `onEvent` sees each event synchronously as it is emitted (tests act at that instant). */
  async startJobManager(
    name: string,
    options: { readonly onEvent?: (e: VigilEvent) => void } = {},
  ): Promise<TestJobManager> {
    const events = new RecordedEvents();
    const times = new Map<VigilEvent, number>();
    const address = `${name}:6123`;
    const core = new JobManagerCore({
      name,
      ha: this.ha,
      storageDir: this.storageDir,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
      logger: silentLogger,
      events: (e) => {
        events.sink(e);
        times.set(e, monotonicNow());
        options.onEvent?.(e);
      },
      memory: this.coordinator,
      connectTaskExecutor: (a) => this.connect(a),
    });
    const jm = { name, address, core, events, times };
    this.jobManagers.set(address, jm);
    await core.start(address);
    return jm;
  }

  async startTaskManager(id: string, slots = 2): Promise<FakeTaskManager> {
    const tm = new FakeTaskManager(id, `${id}:7000`, slots, this);
    this.taskManagers.set(tm.address, tm);
    await tm.start();
    return tm;
  }

  resourceManagerAt(address: string): ResourceManagerService | undefined {
    return this.jobManagers.get(address)?.core.resourceManager;
  }

  async close(): Promise<void> {
    for (const tm of this.taskManagers.values()) await tm.kill();
    for (const jm of this.jobManagers.values()) await jm.core.close();
    this.coordinator.close();
  }

  private connect(address: string): TaskExecutorClient {
    const tm = this.taskManagers.get(address);
    const unreachable = (): Promise<never> => Promise.reject(new UnavailableError(`nothing at ${address}`));
    return {
      deployTask: (request) => tm?.deployTask(request) ?? unreachable(),
      cancelTask: (request) => tm?.cancelTask(request) ?? unreachable(),
      triggerCheckpoint: (request) => tm?.triggerCheckpoint(request) ?? unreachable(),
      notifyCheckpointComplete: (request) => tm?.notifyCheckpointComplete(request) ?? unreachable(),
      abortCheckpoint: (request) => tm?.abortCheckpoint(request) ?? unreachable(),
      close: () => {},
    };
  }
}

/** A valid graph: one chain source.sequence → sink.discard of `parallelism`, with `config` as job config. */
export function testGraph(
  jobId: string,
  parallelism = 2,
  config: object = { restartStrategy: { type: "none" } },
): JobGraph {
  return {
    version: 1,
    jobId,
    name: `job ${jobId}`,
    vertices: [
      { id: "src", name: "source", operatorKind: "source.sequence", parallelism, configJson: '{"count":0}' },
      { id: "sink", name: "sink", operatorKind: "sink.discard", parallelism, configJson: "{}" },
    ],
    edges: [{ source: "src", target: "sink", partitioning: "PARTITIONING_FORWARD" }],
    configJson: JSON.stringify(config),
  };
}

/** Polls an asynchronous condition every 5 ms; rejects after `timeoutMs` naming what it waited for. */
export async function waitUntilAsync(
  condition: () => Promise<boolean>,
  timeoutMs = 1_000,
  what = condition.toString(),
): Promise<void> {
  const until = monotonicNow() + timeoutMs;
  while (!(await condition())) {
    if (monotonicNow() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}
