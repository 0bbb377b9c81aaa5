// Test helpers for TaskManager unit tests (no test framework imports here): a fake ResourceManager leader that
// records what TaskManagers send and can be told to stop answering or to forget them, an election contender
// that publishes such a fake leader's address, and controllable tasks.
import { monotonicNow } from "../common/clock.ts";
import { NotLeaderError, StaleFenceError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CheckpointAck,
  CheckpointDecline,
  HeartbeatResponse,
  RegisterTaskManagerRequest,
  RegisterTaskManagerResponse,
  TaskDescriptor,
  TaskManagerHeartbeat,
  TaskStateAck,
  TaskStateUpdate,
} from "../generated/records.ts";
import type { ResourceManagerService } from "../generated/services.ts";
import type { LeaderContender } from "../ha/leader-election-service.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { CallOptions } from "../rpc/call.ts";
import type { TaskHandle, TaskRunContext } from "./task-runner.ts";

/** A leader's ResourceManager as a TaskManager sees it. Answers with `epoch`, set when its contender is granted. */
export class FakeResourceManager implements ResourceManagerService {
  epoch = 0n;
  /** False: calls hang until the caller's signal aborts (a frozen or partitioned leader). */
  answering = true;
  /** False: heartbeats answer registered=false until the next registration. */
  knows = true;
  /** True: registrations and heartbeats answer NOT_LEADER (a leader that was deposed but is alive). */
  deposed = false;
  heartbeatIntervalMs = 50;
  heartbeatTimeoutMs = 400;
  /** When set, registrations are recorded at once but answered only once it resolves. */
  hold: Promise<void> | undefined;
  registrationId: string | undefined;
  /** monotonicNow() when its contender's address was published. */
  publishedAt: number | undefined;
  readonly registrations: Array<RegisterTaskManagerRequest & { readonly at: number }> = [];
  readonly heartbeats: TaskManagerHeartbeat[] = [];
  /** monotonicNow() at which each answered heartbeat arrived (an in-process call arrives when it is sent). */
  readonly heartbeatAt: number[] = [];
  readonly updates: TaskStateUpdate[] = [];
  /** Every call received, answered or not. */
  calls = 0;
  private next = 1;

  /** Mutable so that a test can serve the fake on a real RpcServer and learn the address afterwards. */
  constructor(
    readonly name: string,
    public address: string,
  ) {}

  async registerTaskManager(
    request: RegisterTaskManagerRequest,
    options?: CallOptions,
  ): Promise<RegisterTaskManagerResponse> {
    await this.gate(options);
    if (this.deposed) throw new NotLeaderError(undefined);
    if (request.epoch !== this.epoch) throw new StaleFenceError(request.epoch, "register taskmanager");
    this.knows = true;
    this.registrationId = `${this.name}-r${this.next++}`;
    this.registrations.push({ ...request, at: monotonicNow() });
    const response: RegisterTaskManagerResponse = {
      epoch: this.epoch,
      jobmanagerName: this.name,
      registrationId: this.registrationId,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
    };
    if (this.hold) await this.hold;
    return response;
  }

  async heartbeat(request: TaskManagerHeartbeat, options?: CallOptions): Promise<HeartbeatResponse> {
    await this.gate(options);
    if (this.deposed) throw new NotLeaderError(undefined);
    this.heartbeats.push(request);
    this.heartbeatAt.push(monotonicNow());
    return { epoch: this.epoch, registered: this.knows && request.registrationId === this.registrationId };
  }

  async updateTaskState(request: TaskStateUpdate, options?: CallOptions): Promise<TaskStateAck> {
    await this.gate(options);
    this.updates.push(request);
    return {};
  }

  /** Recorded, not acted on: no checkpoint coordinator in this fake. */
  readonly checkpointMessages: (CheckpointAck | CheckpointDecline)[] = [];

  async acknowledgeCheckpoint(request: CheckpointAck, options?: CallOptions): Promise<TaskStateAck> {
    await this.gate(options);
    this.checkpointMessages.push(request);
    return {};
  }

  async declineCheckpoint(request: CheckpointDecline, options?: CallOptions): Promise<TaskStateAck> {
    await this.gate(options);
    this.checkpointMessages.push(request);
    return {};
  }

  /** A client's close; the fake outlives its clients. */
  close(): void {}

  private gate(options: CallOptions | undefined): Promise<void> {
    this.calls += 1;
    if (this.answering) return Promise.resolve();
    return new Promise((_, reject) => {
      const signal = options?.signal;
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }
}

/** A contender that, once granted, gives its fake leader the epoch and publishes the fake's address. */
export class FakeLeaderContender implements LeaderContender {
  session: LeaderSession | undefined;

  constructor(
    readonly rm: FakeResourceManager,
    private readonly confirm: (session: LeaderSession, address: string) => Promise<boolean>,
  ) {}

  async grantLeadership(session: LeaderSession): Promise<void> {
    this.session = session;
    this.rm.epoch = session.epoch;
    if (await this.confirm(session, this.rm.address)) this.rm.publishedAt = monotonicNow();
  }

  revokeLeadership(session: LeaderSession): void {
    if (this.session === session) this.session = undefined;
  }

  handleError(): void {}
}

interface Pending {
  readonly finish: () => void;
  readonly fail: (error: Error) => void;
}

/** Tasks that run until the test finishes or fails them; on abort they stop after `stopDelayMs`. */
export class ControlledTasks {
  /** Delay between the abort and the task's code returning (a task that takes a while to stop). */
  stopDelayMs = 0;
  /** True: tasks ignore an abort that arrives while it is set (code stuck where it never checks its signal). */
  ignoreAbort = false;
  readonly started: string[] = [];
  /** Executions whose code has returned, in order. */
  readonly stopped: string[] = [];
  private readonly pending = new Map<string, Pending>();

  /** Checkpoint commands the tasks received, as "<command> <execution> <checkpoint id>". */
  readonly checkpointCommands: string[] = [];

  readonly run = (context: TaskRunContext): TaskHandle => {
    const id = context.task.executionId;
    const record = (command: string, checkpointId: bigint): void => {
      this.checkpointCommands.push(`${command} ${id} ${checkpointId}`);
    };
    return {
      done: this.runUntilSettled(context),
      triggerCheckpoint: (checkpointId) => record("trigger", checkpointId),
      notifyCheckpointComplete: (checkpointId) => record("complete", checkpointId),
      abortCheckpoint: (checkpointId) => record("abort", checkpointId),
    };
  };

  private runUntilSettled(context: TaskRunContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const id = context.task.executionId;
      this.started.push(id);
      let settled = false;
      const settle = (end: () => void): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(id);
        this.stopped.push(id);
        end();
      };
      context.signal.addEventListener(
        "abort",
        () => {
          if (this.ignoreAbort) return;
          const stop = (): void => settle(() => reject(context.signal.reason));
          if (this.stopDelayMs > 0) setTimeout(stop, this.stopDelayMs);
          else stop();
        },
        { once: true },
      );
      context.onRecords(7);
      this.pending.set(id, { finish: () => settle(resolve), fail: (e) => settle(() => reject(e)) });
    });
  }

  get running(): string[] {
    return [...this.pending.keys()];
  }

  finish(executionId: string): void {
    this.pending.get(executionId)?.finish();
  }

  fail(executionId: string, error: Error): void {
    this.pending.get(executionId)?.fail(error);
  }
}

/** A one-vertex task of job `job`, subtask `subtask`, deployed by the leader of `epoch` into `slot`. */
export function taskDescriptor(job: string, subtask: number, epoch: bigint, slot = subtask): TaskDescriptor {
  return {
    jobId: job,
    executionId: `${job}/source/${subtask}/1@${epoch}`,
    epoch,
    inputs: [],
    outputs: [],
    restore: [],
    restoredCheckpointId: 0n,
    subtask,
    parallelism: 2,
    attempt: 1,
    chain: [
      { id: "source", name: "source", operatorKind: "source-sequence", parallelism: 2, configJson: "{}" },
    ],
    slot,
  };
}

/** A logger that keeps its lines, for asserting what was logged (and how often). */
export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: string; message: string }>;

  constructor(lines: Array<{ level: string; message: string }> = []) {
    this.lines = lines;
  }

  debug(message: string): void {
    this.lines.push({ level: "debug", message });
  }
  info(message: string): void {
    this.lines.push({ level: "info", message });
  }
  warn(message: string): void {
    this.lines.push({ level: "warn", message });
  }
  error(message: string): void {
    this.lines.push({ level: "error", message });
  }
  child(): Logger {
    return new RecordingLogger(this.lines);
  }
}
