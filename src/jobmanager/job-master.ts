// One job on the leader (Flink's JobMaster with the default scheduler's full-restart failover): waits for one
// free slot per subtask, deploys every subtask, and follows the tasks' states. Any task failure (or a lost
// TaskManager) restarts the whole job per its restart strategy: cancel what still runs, wait the strategy's
// delay, deploy again as the next attempt. A terminal job is recorded in the JobResultStore (dirty) before
// its JobGraph is removed and the result is marked clean. Everything stops at once when the leader session
// ends (a later leader recovers the job); nothing here outlives the session.
import {
  CheckpointCoordinator,
  type SavepointResult,
  type SavepointTarget,
} from "../checkpoint/coordinator.ts";
import { monotonicNow, sleep } from "../common/clock.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  isLeadershipLoss,
  UnavailableError,
} from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CheckpointMetadata,
  JobDetails,
  JobGraph,
  JobState,
  JobSummary,
  OperatorSubtaskState,
} from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { JobGraphStore } from "../ha/stores/job-graph-store.ts";
import type { JobResultEntry, JobResultStore } from "../ha/stores/job-result-store.ts";
import type { TaskChainPlan } from "../runtime/job-graph.ts";
import { describe, ExecutionAttempt } from "./execution-attempt.ts";
import {
  type JobCheckpoints,
  removeCheckpoints,
  removeGraph,
  restorePoint,
  taskGateway,
} from "./job-checkpoints.ts";
import type { Notifier } from "./notifier.ts";
import type { ResourceManager } from "./resource-manager.ts";
import type { RestartBackoff } from "./restart-strategy.ts";

export type JobStateName =
  | "CREATED"
  | "RUNNING"
  | "RESTARTING"
  | "CANCELLING"
  | "FINISHED"
  | "CANCELED"
  | "FAILED";
type TerminalStatus = JobResultEntry["status"];

export interface JobMasterOptions {
  readonly session: LeaderSession;
  readonly graph: JobGraph;
  readonly plans: readonly TaskChainPlan[];
  readonly submittedAtMs: bigint;
  readonly resourceManager: ResourceManager;
  readonly graphs: JobGraphStore;
  readonly results: JobResultStore;
  readonly backoff: RestartBackoff;
  /** The job's checkpoint stores and config: restore, periodic checkpoints, cleanup at the end. */
  readonly checkpoints?: JobCheckpoints;
  /** Resolves when this job may deploy (recovered jobs wait for the TaskManager registry rule). */
  readonly deployable: Promise<void>;
  /** Notified whenever slots may have become free. */
  readonly resources: Notifier;
  /** How often to repeat cancel commands that got no answer. */
  readonly retryMs: number;
  readonly events: EventSink;
  readonly logger: Logger;
}

type Outcome = "finished" | "cancelled" | { readonly error: string };

export const jobStateOf = (status: TerminalStatus): JobStateName =>
  status === "JOB_STATUS_FINISHED" ? "FINISHED" : status === "JOB_STATUS_CANCELED" ? "CANCELED" : "FAILED";

export class JobMaster {
  readonly jobId: string;
  private stateName: JobStateName = "CREATED";
  private readonly stopper = new AbortController();
  private readonly canceller = new AbortController();
  /** Aborts when the session ends or stop() is called: leave at once, quietly. */
  private readonly signal: AbortSignal;
  /** Also aborts on cancel(): every wait of the normal course ends. */
  private readonly cancelSignal: AbortSignal;
  private current: ExecutionAttempt | undefined;
  private attempts = 0;
  private restarts = 0;
  private error = "";
  private running: Promise<void> | undefined;
  private coordinator: CheckpointCoordinator | undefined;
  /** Set when checkpoints failed more often in a row than tolerated: the attempt fails with it. */
  private checkpointFailure: string | undefined;

  constructor(private readonly options: JobMasterOptions) {
    this.jobId = options.graph.jobId;
    this.signal = AbortSignal.any([options.session.signal, this.stopper.signal]);
    this.cancelSignal = AbortSignal.any([this.signal, this.canceller.signal]);
  }

  get graph(): JobGraph {
    return this.options.graph;
  }

  get state(): JobStateName {
    return this.stateName;
  }

  get terminal(): boolean {
    return this.stateName === "FINISHED" || this.stateName === "CANCELED" || this.stateName === "FAILED";
  }

  start(): void {
    this.running ??= this.run();
  }

  /** The dispatcher recorded the job as CANCELED: stop its tasks, then clean up. */
  cancel(): void {
    this.canceller.abort();
  }

  /** Leadership ended: stop at once, sending nothing more. */
  stop(): void {
    this.stopper.abort();
  }

  /** Resolves once the job master has stopped working (terminal, or stopped). Never rejects. */
  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  summary(): JobSummary {
    return {
      jobId: this.jobId,
      name: this.options.graph.name,
      state: `JOB_STATE_${this.stateName}` as JobState,
      submittedAtMs: this.options.submittedAtMs,
      restarts: this.restarts,
      tasks: this.options.plans.reduce((n, p) => n + p.parallelism, 0),
      runningTasks: this.current?.runningTasks() ?? 0,
      error: this.error,
    };
  }

  /**
   * A savepoint of the running attempt (CheckpointCoordinator.triggerSavepoint); with `target.stop` the job
   * then finishes. InvalidArgumentError when the job cannot take one; UnavailableError while it is not running.
   */
  async savepoint(target: SavepointTarget): Promise<SavepointResult> {
    const what = `job ${this.jobId}`;
    if (this.terminal) {
      throw new InvalidArgumentError(`${what} is ${this.stateName}; only a running job takes a savepoint`);
    }
    const checkpoints = this.options.checkpoints;
    if (!checkpoints?.blobs || checkpoints.config.intervalMs <= 0) {
      throw new InvalidArgumentError(
        `${what} takes no checkpoints, so it cannot take a savepoint: submit it with checkpointing.intervalMs > 0 in its config (and JobManagers with --storage-dir)`,
      );
    }
    const coordinator = this.coordinator;
    if (coordinator === undefined || this.stateName !== "RUNNING") {
      throw new UnavailableError(`${what} is ${this.stateName}, not RUNNING; retry once it runs`);
    }
    return coordinator.triggerSavepoint(target);
  }

  /** A task's checkpoint acknowledgement, routed here by execution id. */
  acknowledgeCheckpoint(
    executionId: string,
    checkpointId: bigint,
    states: readonly OperatorSubtaskState[],
  ): void {
    this.coordinator?.acknowledge(executionId, checkpointId, states);
  }

  declineCheckpoint(executionId: string, checkpointId: bigint, reason: string): void {
    this.coordinator?.decline(executionId, checkpointId, reason);
  }

  details(): JobDetails {
    return { summary: this.summary(), tasks: this.current?.tasks() ?? [] };
  }

  private async run(): Promise<void> {
    this.setState("CREATED");
    try {
      if (await this.course()) await this.cancelled();
    } catch (e: unknown) {
      if (this.signal.aborted) return;
      this.error = describe(e);
      this.options.logger.error("job master stopped unexpectedly", { job: this.jobId, error: this.error });
    }
  }

  /** The normal course of the job; true when it was cancelled on the way. */
  private async course(): Promise<boolean> {
    if (!(await this.until(this.options.deployable))) return true;
    for (;;) {
      const outcome = await this.runAttempt();
      if (outcome === "cancelled") return true;
      if (outcome === "finished") {
        await this.terminate("JOB_STATUS_FINISHED", "");
        return false;
      }
      const failedAt = monotonicNow();
      this.error = outcome.error;
      const delay = this.options.backoff.onFailure(failedAt);
      if (delay !== undefined) this.setState("RESTARTING");
      this.options.logger.warn(delay === undefined ? "job failed; no restart left" : "job restarting", {
        job: this.jobId,
        error: outcome.error,
        ...(delay !== undefined && { delayMs: delay }),
      });
      await this.current?.stop();
      if (this.canceller.signal.aborted) return true;
      if (delay === undefined) {
        await this.terminate("JOB_STATUS_FAILED", outcome.error);
        return false;
      }
      this.restarts += 1;
      const left = delay - (monotonicNow() - failedAt);
      if (left > 0 && !(await this.until(sleep(left, this.cancelSignal)))) return true;
    }
  }

  private async cancelled(): Promise<void> {
    this.setState("CANCELLING");
    await this.current?.stop();
    await this.terminate("JOB_STATUS_CANCELED", "");
  }

  /** One attempt: restore point, slots, deployment, then the tasks' states until all finished, one failed, or cancel. */
  private async runAttempt(): Promise<Outcome> {
    let restore: CheckpointMetadata | undefined;
    try {
      restore = await restorePoint(this.options.checkpoints, this.options.graph, this.options.session);
    } catch (e: unknown) {
      this.signal.throwIfAborted();
      // Strict: never start empty when a checkpoint exists; the restart strategy decides on another try.
      const from = this.options.graph.savepointRestore ? " or the job's savepoint" : "";
      return { error: `cannot restore from the latest completed checkpoint${from}: ${describe(e)}` };
    }
    const attempt = new ExecutionAttempt({
      jobId: this.jobId,
      attempt: this.attempts,
      epoch: this.options.session.epoch,
      plans: this.options.plans,
      graph: this.options.graph,
      restore,
      resourceManager: this.options.resourceManager,
      signal: this.signal,
      retryMs: this.options.retryMs,
      logger: this.options.logger,
      onFinished: (executionId) => this.coordinator?.taskFinished(executionId),
    });
    while (!attempt.place()) {
      // Checked again after every change; the timeout only bounds a missed notification.
      if (!(await this.until(this.options.resources.next(this.cancelSignal, 1_000)))) return "cancelled";
    }
    this.attempts += 1;
    this.current = attempt;
    if (restore) {
      this.options.logger.info(restore.savepoint ? "restoring from savepoint" : "restoring from checkpoint", {
        job: this.jobId,
        checkpoint: restore.checkpointId,
        attempt: this.attempts - 1,
      });
    }
    attempt.deploy();
    this.startCoordinator(attempt);
    try {
      for (;;) {
        const outcome = attempt.outcome();
        if (outcome === "running") {
          if (this.stateName !== "RUNNING") this.setState("RUNNING");
        } else if (outcome) {
          return outcome;
        }
        if (this.checkpointFailure !== undefined) return { error: this.checkpointFailure };
        if (!(await this.until(attempt.changed.next(this.cancelSignal)))) return "cancelled";
      }
    } finally {
      await this.stopCoordinator();
    }
  }

  /** Periodic checkpoints of this attempt, when the job config enables them. */
  private startCoordinator(attempt: ExecutionAttempt): void {
    const checkpoints = this.options.checkpoints;
    if (!checkpoints?.blobs || checkpoints.config.intervalMs <= 0) return;
    this.checkpointFailure = undefined;
    this.coordinator = new CheckpointCoordinator({
      jobId: this.jobId,
      session: this.options.session,
      config: checkpoints.config,
      counter: checkpoints.counter,
      store: checkpoints.store,
      blobs: checkpoints.blobs,
      tasks: () => (this.current === attempt ? attempt.checkpointTasks() : []),
      gateway: taskGateway(this.options.resourceManager),
      events: this.options.events,
      logger: this.options.logger,
      onFailureThreshold: (reason) => {
        this.checkpointFailure = `checkpoints failed more often than tolerated: ${reason}`;
        attempt.changed.notify();
      },
    });
    this.coordinator.start();
  }

  private async stopCoordinator(): Promise<void> {
    const coordinator = this.coordinator;
    this.coordinator = undefined;
    if (!coordinator) return;
    // After a revoke nothing here waits on the store: the coordinator stops itself with the session.
    if (this.signal.aborted) void coordinator.stop();
    else await coordinator.stop();
  }

  /** Records the result (or adopts one written first, e.g. by a cancel), then removes the job's HA data. */
  private async terminate(status: TerminalStatus, error: string): Promise<void> {
    const { graphs, results, session } = this.options;
    const recorded = await this.retrying("record the job result", async () => {
      try {
        await results.createDirty(
          { jobId: this.jobId, status, error, finishedAtMs: BigInt(Date.now()) },
          session,
        );
        return status;
      } catch (e: unknown) {
        if (!(e instanceof AlreadyExistsError)) throw e;
        return (await results.get(this.jobId))?.status ?? status;
      }
    });
    this.setState(jobStateOf(recorded));
    await this.retrying("clean up the job's HA data", async () => {
      await removeCheckpoints(this.options.checkpoints, session);
      await removeGraph(graphs, this.options.checkpoints?.blobs, this.jobId, session);
      await results.markClean(this.jobId, session);
      this.options.events({ event: "job-cleaned", job: this.jobId, epoch: session.epoch });
    });
  }

  /** Retries a store action with back-off while the session lasts; a lost session ends the job master. */
  private async retrying<T>(what: string, action: () => Promise<T>): Promise<T> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      this.signal.throwIfAborted();
      try {
        return await action();
      } catch (e: unknown) {
        if (isLeadershipLoss(e)) throw e;
        this.options.logger.warn(`job ${this.jobId}: could not ${what}; retrying`, { error: describe(e) });
        await sleep(delay, this.signal);
      }
    }
  }

  /** Waits for `p`; false when the job was cancelled first; throws when leadership ended. */
  private async until(p: Promise<unknown>): Promise<boolean> {
    let onCancel = (): void => {};
    const cancelled = new Promise<false>((resolve) => {
      onCancel = () => resolve(false);
      if (this.cancelSignal.aborted) resolve(false);
      else this.cancelSignal.addEventListener("abort", onCancel, { once: true });
    });
    try {
      const outcome = await Promise.race([p.then(() => true as const), cancelled]);
      this.signal.throwIfAborted();
      return outcome && !this.canceller.signal.aborted;
    } catch (e: unknown) {
      this.signal.throwIfAborted();
      if (this.canceller.signal.aborted) return false;
      throw e;
    } finally {
      this.cancelSignal.removeEventListener("abort", onCancel);
    }
  }

  private setState(state: JobStateName): void {
    this.stateName = state;
    const { session } = this.options;
    this.options.logger.info("job state", { job: this.jobId, state, epoch: session.epoch });
    // Reported only as the leader: a job master whose session just ended is stopping, not acting.
    if (session.isValid())
      this.options.events({ event: "job-state", job: this.jobId, state, epoch: session.epoch });
  }
}
