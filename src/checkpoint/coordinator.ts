// The checkpoint coordinator of one running job, on the leader JobManager (Flink's CheckpointCoordinator).
// It triggers checkpoints at the sources periodically (interval, min pause, max concurrent; when and with
// which id: periodic-trigger.ts, checkpoint-trigger.ts), collects every task's acknowledgement, and ends each
// checkpoint (checkpoint-outcomes.ts): made durable (completion.ts: metadata blob, then the fenced pointer),
// then every task is told it completed so that sinks commit. Failed, declined and timed-out checkpoints are
// aborted: the tasks are told and the states acknowledged so far are deleted.
//
// Fencing: ids come from the fenced CheckpointIdCounter and every action first checks the leader session;
// the session ending stops the coordinator. Threading: everything runs on the event loop; store and file
// work is tracked so that stop() resolves only once none of it is left.
import {
  CancelledError,
  DeadlineExceededError,
  describeCause,
  InternalError,
  isLeadershipLoss,
  LifecycleError,
  UnavailableError,
} from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import type { CheckpointMetadata, OperatorSubtaskState } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { CheckpointIdCounter } from "../ha/stores/checkpoint-id-counter.ts";
import type { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import { CheckpointFiles } from "./checkpoint-files.ts";
import { CheckpointOutcomes } from "./checkpoint-outcomes.ts";
import { CheckpointTrigger, triggerTargets } from "./checkpoint-trigger.ts";
import type { CheckpointConfig } from "./config.ts";
import { CheckpointFailureCounter } from "./failure-counter.ts";
import type { CheckpointGateway, CheckpointTask } from "./gateway.ts";
import { readLatestForRestore } from "./metadata.ts";
import {
  describeCheckpoint,
  type PendingCheckpoint,
  type SavepointResult,
  type SavepointTarget,
  stateRefs,
} from "./pending-checkpoint.ts";
import { PeriodicTrigger } from "./periodic-trigger.ts";
import { TaskMessenger } from "./task-messenger.ts";

export type { CheckpointGateway, CheckpointTask } from "./gateway.ts";
export type { SavepointResult, SavepointTarget } from "./pending-checkpoint.ts";

export interface CheckpointCoordinatorOptions {
  readonly jobId: string;
  readonly session: LeaderSession;
  readonly config: CheckpointConfig;
  readonly counter: CheckpointIdCounter;
  /** Constructed with `retain: config.retain`. */
  readonly store: CompletedCheckpointStore;
  readonly blobs: FileBlobStore;
  /** The tasks of the current attempt once all run; empty while the job is not running. */
  readonly tasks: () => readonly CheckpointTask[];
  readonly gateway: CheckpointGateway;
  readonly events: EventSink;
  readonly logger: Logger;
  /** More consecutive periodic checkpoints failed than config.tolerableFailures: fail the job. */
  readonly onFailureThreshold?: (reason: string) => void;
}

type State = "created" | "running" | "stopped";

export class CheckpointCoordinator {
  private state: State = "created";
  private readonly pending = new Map<bigint, PendingCheckpoint>();
  private readonly triggers: CheckpointTrigger;
  private readonly outcomes: CheckpointOutcomes;
  private readonly failures: CheckpointFailureCounter;
  private readonly messenger: TaskMessenger;
  private readonly periodic: PeriodicTrigger;
  private readonly work = new Set<Promise<void>>();
  private readonly files: CheckpointFiles;
  private readonly logger: Logger;
  private readonly onRevoke = (): void => void this.stop();
  /** Aborts when the coordinator stops: ends the deliveries that retry. */
  private readonly stopped = new AbortController();

  constructor(private readonly options: CheckpointCoordinatorOptions) {
    const { jobId, session, counter, store, blobs } = options;
    this.logger = options.logger.child({ job: jobId });
    this.files = new CheckpointFiles(jobId, store, blobs, this.logger);
    this.messenger = new TaskMessenger(options.gateway, this.logger);
    this.failures = new CheckpointFailureCounter(
      options.config.tolerableFailures,
      options.onFailureThreshold,
      this.logger,
    );
    this.triggers = new CheckpointTrigger(
      { jobId, session, counter },
      {
        assertRunning: (what) => this.assertRunning(what),
        currentTasks: () => this.currentTasks(),
        launch: (p) => this.launch(p),
      },
    );
    this.periodic = new PeriodicTrigger(options.config, {
      ready: () => !this.triggers.stopping && this.currentTasks().length > 0 && session.isValid(),
      inFlight: () => this.triggers.inFlight + this.pending.size,
      fire: () => this.track(this.triggerPeriodic()),
    });
    this.outcomes = new CheckpointOutcomes({
      jobId,
      session,
      store,
      blobs,
      files: this.files,
      messenger: this.messenger,
      failures: this.failures,
      periodic: this.periodic,
      pending: this.pending,
      running: () => this.state === "running",
      stopped: this.stopped.signal,
      endStop: (p) => this.triggers.endStop(p),
      emit: (event, p, fields) => this.emit(event, p, fields),
      track: (work) => this.track(work),
      logger: this.logger,
    });
  }

  /**
   * Strictly reads the latest completed checkpoint's metadata for restore; undefined when there is none;
   * throws (never falls back to an older one) when it cannot be read.
   */
  static latestForRestore(
    store: CompletedCheckpointStore,
    blobs: FileBlobStore,
  ): Promise<CheckpointMetadata | undefined> {
    return readLatestForRestore(store, blobs);
  }

  /** Starts periodic checkpoints (when config.intervalMs > 0). Once only; stops by itself when the session ends. */
  start(): void {
    if (this.state !== "created") {
      throw new LifecycleError(`checkpoint coordinator of job ${this.options.jobId} was already started`);
    }
    this.state = "running";
    const { signal } = this.options.session;
    if (signal.aborted) {
      void this.stop();
      return;
    }
    signal.addEventListener("abort", this.onRevoke, { once: true });
    this.periodic.start();
  }

  /**
   * Stops triggering and aborts the pending checkpoints; a checkpoint already being written finishes, but no
   * task hears of it. Resolves once no store or file work of this coordinator is left. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state !== "stopped") {
      this.state = "stopped";
      this.stopped.abort();
      this.periodic.stop();
      this.options.session.signal.removeEventListener("abort", this.onRevoke);
      for (const p of [...this.pending.values()]) {
        const reason = "the checkpoint coordinator stopped";
        this.outcomes.abort(p, reason, new CancelledError(`${this.describe(p)}: ${reason}`), false);
      }
    }
    while (this.work.size > 0) await Promise.all(this.work);
  }

  /**
   * Takes a savepoint now (regardless of interval, min pause and max concurrent) and resolves once its
   * directory is written. A plain savepoint is not added to the completed-checkpoint store (never subsumed,
   * never restored from automatically) and tasks are not notified of it, so sinks do not commit on it. A
   * stop-with-savepoint (`target.stop`) pauses periodic checkpoints, stops the sources after its barrier, and
   * completes like a checkpoint (store, then notification, delivered until it arrives: the stopped sources
   * wait for it to end the job); when it fails the sources resume and periodic checkpoints go on.
   */
  async triggerSavepoint(target: SavepointTarget): Promise<SavepointResult> {
    this.options.session.assertLeader();
    const pending = await this.triggers.trigger(target);
    return pending.result!;
  }

  /** A task's snapshot of `checkpointId`. Unknown and late acks are ignored, except that a late ack of an aborted checkpoint has its states deleted. */
  acknowledge(executionId: string, checkpointId: bigint, states: readonly OperatorSubtaskState[]): void {
    if (this.state !== "running") return;
    const p = this.pending.get(checkpointId);
    if (p === undefined || p.phase !== "pending") {
      if (p === undefined && this.outcomes.wasAborted(checkpointId)) {
        this.logger.info("late acknowledgement of an aborted checkpoint: deleting its states", {
          checkpoint: checkpointId,
          execution: executionId,
        });
        this.track(this.files.deleteUnreferenced(stateRefs(states), `aborted checkpoint ${checkpointId}`));
      } else {
        this.logger.debug("ignoring an acknowledgement", {
          checkpoint: checkpointId,
          execution: executionId,
        });
      }
      return;
    }
    const result = p.acknowledge(executionId, states);
    if (result.kind === "accepted") {
      if (p.fullyAcknowledged) this.track(this.outcomes.complete(p));
    } else if (result.kind === "invalid") {
      const reason = `task ${executionId} acknowledged unusable states: ${result.problem}`;
      this.track(this.files.deleteUnreferenced(stateRefs(states), this.describe(p)));
      this.outcomes.abort(p, reason, new InternalError(`${this.describe(p)}: ${reason}`), true);
    } else {
      this.logger.debug(`ignoring a ${result.kind} acknowledgement`, {
        checkpoint: checkpointId,
        execution: executionId,
      });
    }
  }

  /** A task could not take part in `checkpointId`: it is aborted (unknown checkpoints and tasks are ignored). */
  decline(executionId: string, checkpointId: bigint, reason: string): void {
    if (this.state !== "running") return;
    const p = this.pending.get(checkpointId);
    if (p === undefined || !p.tasks.some((t) => t.executionId === executionId)) return;
    const why = `declined by task ${executionId}: ${reason}`;
    this.outcomes.abort(p, why, new InternalError(`${this.describe(p)}: ${why}`), true);
  }

  /**
   * Task `executionId` finished: every pending checkpoint still waiting for it takes the states it
   * acknowledged in the newest completed checkpoint (Flink's finished-task handling). A task that finished
   * before any completed checkpoint included it cannot be covered: those checkpoints are aborted.
   */
  taskFinished(executionId: string): void {
    if (this.state !== "running") return;
    for (const p of [...this.pending.values()]) {
      if (p.phase !== "pending" || p.hasAcknowledged(executionId)) continue;
      if (!p.tasks.some((t) => t.executionId === executionId)) continue;
      this.acknowledgeFinished(p, executionId);
    }
  }

  private acknowledgeFinished(p: PendingCheckpoint, executionId: string): void {
    const states = this.outcomes.lastCompletedStates(executionId);
    if (states === undefined) {
      const reason = `task ${executionId} finished before any completed checkpoint included its state`;
      this.outcomes.abort(p, reason, new UnavailableError(`${this.describe(p)}: ${reason}`), false);
      return;
    }
    this.acknowledge(executionId, p.checkpointId, states);
  }

  private launch(p: PendingCheckpoint): PendingCheckpoint {
    const { config, session } = this.options;
    this.pending.set(p.checkpointId, p);
    p.timeout = setTimeout(() => {
      const reason = `timed out after ${config.timeoutMs} ms with ${p.acknowledged} of ${p.tasks.length} tasks acknowledged`;
      this.outcomes.abort(p, reason, new DeadlineExceededError(`${this.describe(p)}: ${reason}`), true);
    }, config.timeoutMs);
    this.emit("checkpoint-triggered", p);
    this.logger.debug(`triggered ${this.describe(p)}`, { epoch: session.epoch });
    this.messenger.trigger(p, triggerTargets(p.tasks), (executionId, e) => {
      const reason = `triggering it on task ${executionId} failed: ${describeCause(e)}`;
      this.outcomes.abort(p, reason, new UnavailableError(`${this.describe(p)}: ${reason}`, e), true);
    });
    for (const t of p.tasks) {
      if (t.finished && p.phase === "pending") this.acknowledgeFinished(p, t.executionId);
    }
    return p;
  }

  private async triggerPeriodic(): Promise<void> {
    try {
      await this.triggers.trigger();
    } catch (e: unknown) {
      if (this.state !== "running" || isLeadershipLoss(e) || e instanceof UnavailableError) return;
      this.logger.warn("could not trigger a checkpoint", { error: describeCause(e) });
      this.failures.failed(`triggering failed: ${describeCause(e)}`);
    }
  }

  /** The current attempt's tasks; aborts pending checkpoints of an attempt that is gone. */
  private currentTasks(): readonly CheckpointTask[] {
    const tasks = this.options.tasks();
    const ids = new Set(tasks.map((t) => t.executionId));
    for (const p of [...this.pending.values()]) {
      if (p.phase !== "pending" || p.belongsTo(ids)) continue;
      const reason = tasks.length === 0 ? "the job's tasks stopped running" : "the job restarted";
      this.outcomes.abort(p, reason, new UnavailableError(`${this.describe(p)}: ${reason}`), false);
    }
    return tasks;
  }

  private assertRunning(what: string): void {
    if (this.state === "running") return;
    const { jobId } = this.options;
    if (this.state === "created") {
      throw new LifecycleError(
        `job ${jobId}: cannot take ${what}: the checkpoint coordinator is not started`,
      );
    }
    throw new CancelledError(`job ${jobId}: cannot take ${what}: the checkpoint coordinator stopped`);
  }

  private emit(event: string, p: PendingCheckpoint, fields: Record<string, unknown> = {}): void {
    const { jobId, session } = this.options;
    this.options.events({ event, job: jobId, checkpoint: p.checkpointId, epoch: session.epoch, ...fields });
  }

  private describe(p: PendingCheckpoint): string {
    return describeCheckpoint(p, this.options.jobId);
  }

  /** Tracks work that stop() waits for; it never rejects. */
  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((e: unknown) => {
        this.logger.error("checkpoint coordinator: unexpected failure", { error: describeCause(e) });
      })
      .finally(() => this.work.delete(tracked));
    this.work.add(tracked);
  }
}
