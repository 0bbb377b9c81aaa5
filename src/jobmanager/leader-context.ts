// Everything that lives exactly as long as one leader session: the resource manager, the job masters, the
// recovery of stored jobs and the TaskManager-registry gate. Created on grant, closed on revoke; nothing in
// here acts after close (every action checks the session, every wait takes its signal).

import { type CheckpointConfig, DEFAULT_CHECKPOINT_CONFIG } from "../checkpoint/config.ts";
import { monotonicNow, sleep, sleepUntil } from "../common/clock.ts";
import { CorruptRecordError } from "../common/errors.ts";
import type { EventSink } from "../common/events.ts";
import type { Logger } from "../common/logger.ts";
import { SerialQueue } from "../common/serial-queue.ts";
import type { JobGraph } from "../generated/records.ts";
import type { LeaderSession } from "../ha/leader-session.ts";
import type { StateHandleStore } from "../ha/state-handle-store.ts";
import { CheckpointIdCounter } from "../ha/stores/checkpoint-id-counter.ts";
import { CompletedCheckpointStore } from "../ha/stores/completed-checkpoint-store.ts";
import type { JobGraphStore } from "../ha/stores/job-graph-store.ts";
import type { JobResultStore } from "../ha/stores/job-result-store.ts";
import type {
  TaskManagerRegistryContents,
  TaskManagerRegistryStore,
} from "../ha/stores/task-manager-registry-store.ts";
import { parseJobConfig } from "../runtime/job-config.ts";
import { planTasks } from "../runtime/job-graph.ts";
import type { FileBlobStore } from "../storage/blob-store.ts";
import type { JobCheckpoints } from "./job-checkpoints.ts";
import { removeCheckpoints, removeGraph } from "./job-checkpoints.ts";
import { JobMaster } from "./job-master.ts";
import { Notifier } from "./notifier.ts";
import { RegistryWriter } from "./registry-writer.ts";
import { type CheckpointMessage, ResourceManager, type TaskExecutorClient } from "./resource-manager.ts";
import { restartBackoff } from "./restart-strategy.ts";

export interface LeaderContextOptions {
  readonly session: LeaderSession;
  /** Monotonic time of the grant: the registry gate opens at most the longest task lease - safetyMarginMs later. */
  readonly grantedAt: number;
  readonly name: string;
  readonly graphs: JobGraphStore;
  readonly results: JobResultStore;
  readonly registry: TaskManagerRegistryStore;
  /** The HA store, for each job's checkpoint pointers and counter. */
  readonly store: StateHandleStore;
  /** File storage (--storage-dir): checkpoints and artifacts; undefined without one. */
  readonly blobs: FileBlobStore | undefined;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly safetyMarginMs: number;
  readonly connectTaskExecutor: (address: string) => TaskExecutorClient;
  readonly events: EventSink;
  readonly logger: Logger;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

export class LeaderContext {
  readonly session: LeaderSession;
  readonly epoch: bigint;
  /** Job masters started under this leader, terminal ones included (their names stay listed). */
  readonly jobs = new Map<string, JobMaster>();
  /** Stored jobs whose recovery failed so far, with the error; retried with back-off. */
  readonly unrecovered = new Map<string, string>();
  /**
   * Submissions, cancellations and recoveries, one at a time: each reads the job's result, graph and job
   * master and acts on what it read, so two of them never interleave.
   */
  readonly writes = new SerialQueue();
  private resourceManagerOrUndefined: ResourceManager | undefined;
  private registryWriter: RegistryWriter | undefined;
  private readonly cleaning = new Map<string, Promise<void>>();
  private readonly resources = new Notifier();
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** TaskManagers the gate still waits for; undefined: unknown (corrupt registry), wait out every lease. */
  private awaited: Set<string> | undefined;
  private gateOpen = false;
  private openGate: () => void = () => {};
  private readonly gate = new Promise<void>((resolve) => {
    this.openGate = resolve;
  });

  constructor(private readonly options: LeaderContextOptions) {
    this.session = options.session;
    this.epoch = options.session.epoch;
    this.signal = AbortSignal.any([options.session.signal, this.controller.signal]);
  }

  get resourceManager(): ResourceManager {
    if (!this.resourceManagerOrUndefined) throw new Error("leader context used before start()");
    return this.resourceManagerOrUndefined;
  }

  /**
   * Recovers: reads the TaskManager registry, starts the resource manager, finishes the cleanup of terminal
   * jobs and starts a job master for every stored job without a result. A job that cannot be recovered is
   * reported and retried in the background; it never blocks the others. Rejects only when the session ends.
   */
  async start(): Promise<void> {
    const { graphs, results, heartbeatTimeoutMs, safetyMarginMs, grantedAt } = this.options;
    const read = await this.retrying("read the taskmanager registry", () => this.readRegistry());
    // Earlier leaders may have granted longer task leases than ours; the record keeps the longest.
    const leasesEndAt = grantedAt + Math.max(read?.taskLeaseMs ?? 0, heartbeatTimeoutMs) - safetyMarginMs;
    this.registryWriter = new RegistryWriter({
      session: this.session,
      registry: this.options.registry,
      read,
      taskLeaseMs: heartbeatTimeoutMs,
      leasesEndAt,
      signal: this.signal,
      events: this.options.events,
      logger: this.options.logger,
    });
    this.registryWriter.start();
    this.resourceManagerOrUndefined = new ResourceManager({
      session: this.session,
      name: this.options.name,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      heartbeatTimeoutMs,
      registry: this.registryWriter,
      connect: this.options.connectTaskExecutor,
      events: this.options.events,
      logger: this.options.logger,
      onResourcesChanged: () => this.onResourcesChanged(),
      onCheckpointMessage: (message) => this.onCheckpointMessage(message),
    });
    this.resourceManager.start();
    this.armGate(read?.taskmanagerIds, leasesEndAt);
    const ids = await this.retrying("list the stored job graphs", () => graphs.jobIds());
    await Promise.all(ids.map((id) => this.recover(id, RETRY_MIN_MS)));
    // Every dirty result gets the whole cleanup, in order (graph removed, then marked clean), whether its
    // graph is still stored or not; nothing waits for this.
    void this.retrying("list the dirty job results", () => results.listDirty())
      .then((dirty) => {
        for (const r of dirty) this.cleanUp(r.jobId).catch(() => {});
      })
      .catch(() => {});
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.controller.signal.aborted;
  }

  /**
   * Starts a job master for a stored graph without a result (callers check, inside `writes`). A job never has
   * two: a live one is returned instead. `recovered` jobs deploy only once the registry gate is open.
   */
  startJob(graph: JobGraph, submittedAtMs: bigint, recovered: boolean): JobMaster {
    const live = this.jobs.get(graph.jobId);
    if (live && !live.terminal) return live;
    const config = parseJobConfig(graph.configJson, `job ${graph.jobId}: job config`);
    const job = new JobMaster({
      session: this.session,
      graph,
      plans: planTasks(graph),
      submittedAtMs,
      resourceManager: this.resourceManager,
      graphs: this.options.graphs,
      results: this.options.results,
      backoff: restartBackoff(config.restartStrategy),
      checkpoints: this.checkpointsOf(graph.jobId, config.checkpointing),
      deployable: recovered ? this.gate : Promise.resolve(),
      resources: this.resources,
      retryMs: this.options.heartbeatIntervalMs,
      events: this.options.events,
      logger: this.options.logger,
    });
    this.jobs.set(graph.jobId, job);
    this.unrecovered.delete(graph.jobId);
    job.start();
    return job;
  }

  /**
   * Removes a terminal job's HA data in the background (a job with a result but no job master): its graph
   * first, then the result is marked clean. One cleanup per job at a time.
   */
  cleanUp(jobId: string): Promise<void> {
    this.unrecovered.delete(jobId);
    const running = this.cleaning.get(jobId);
    if (running) return running;
    const cleanup = this.retrying(`clean up job ${jobId}`, async () => {
      await removeCheckpoints(this.checkpointsOf(jobId, DEFAULT_CHECKPOINT_CONFIG), this.session);
      await removeGraph(this.options.graphs, this.options.blobs, jobId, this.session);
      await this.options.results.markClean(jobId, this.session);
      this.options.events({ event: "job-cleaned", job: jobId, epoch: this.epoch });
    }).finally(() => this.cleaning.delete(jobId));
    this.cleaning.set(jobId, cleanup);
    return cleanup;
  }

  /** A job's checkpoint stores (retention from its config). */
  private checkpointsOf(jobId: string, config: CheckpointConfig): JobCheckpoints {
    const { store, blobs } = this.options;
    return {
      config,
      store: new CompletedCheckpointStore(store, blobs, jobId, config.retain),
      counter: new CheckpointIdCounter(store, jobId),
      blobs,
    };
  }

  /** Acks and declines go to the job of the execution: ids are <job>/<chain>/<subtask>/<attempt>@<epoch>. */
  private onCheckpointMessage(message: CheckpointMessage): void {
    const executionId = message.kind === "ack" ? message.ack.executionId : message.decline.executionId;
    const job = this.jobs.get(executionId.slice(0, executionId.indexOf("/")));
    if (!job) return;
    if (message.kind === "ack") {
      const { checkpointId, states } = message.ack;
      job.acknowledgeCheckpoint(executionId, checkpointId, states);
    } else {
      job.declineCheckpoint(executionId, message.decline.checkpointId, message.decline.reason);
    }
  }

  /** Stops everything at once: no more commands, answers or writes. Idempotent. */
  close(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const job of this.jobs.values()) job.stop();
    this.resourceManagerOrUndefined?.close();
  }

  /** Resolves once every job master of this session has stopped working. */
  async drained(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.done()));
  }

  private async recover(jobId: string, retryMs: number): Promise<void> {
    try {
      await this.writes.run(() => this.recoverNow(jobId));
    } catch (e: unknown) {
      if (this.signal.aborted) return;
      const error = e instanceof Error ? e.message : String(e);
      this.unrecovered.set(jobId, `recovery failed: ${error}`);
      this.options.logger.error("job recovery failed; retrying", { job: jobId, error, retryMs });
      this.options.events({ event: "recovery-failed", job: jobId, error, epoch: this.epoch });
      this.later(retryMs, () => this.recover(jobId, Math.min(retryMs * 2, RETRY_MAX_MS)));
    }
  }

  /**
   * Inside `writes`: starts a job master for a stored job without a result, unless one runs already. Within
   * the queue nothing else can start a job master or write a result of a job without one; the job masters
   * are checked again after every await all the same.
   */
  private async recoverNow(jobId: string): Promise<void> {
    this.signal.throwIfAborted();
    if (this.jobs.has(jobId)) return;
    const result = await this.options.results.get(jobId);
    if (result) {
      // In the background: a cleanup that keeps failing must not hold up the grant.
      this.cleanUp(jobId).catch(() => {});
      return;
    }
    if (this.jobs.has(jobId)) return;
    const stored = await this.options.graphs.getEntry(jobId);
    this.signal.throwIfAborted();
    this.session.assertLeader();
    if (this.jobs.has(jobId)) return;
    if (!stored) {
      this.unrecovered.delete(jobId);
      return;
    }
    this.startJob(stored.graph, stored.submittedAtMs, true);
    this.options.logger.info("job recovered", { job: jobId, epoch: this.epoch });
    this.options.events({ event: "job-recovered", job: jobId, epoch: this.epoch });
  }

  /**
   * Recovered jobs deploy only once every TaskManager listed in the registry re-registered with us (a
   * TaskManager stops its older tasks before it registers; an empty registry opens the gate at once) or
   * `leasesEndAt` passed: the longest task lease minus the safety margin after the grant. The old leader
   * answered its last heartbeat before its own session deadline, which precedes our grant, so every old task
   * lease has run out by then.
   */
  private armGate(listed: readonly string[] | undefined, leasesEndAt: number): void {
    this.awaited = listed && new Set(listed);
    this.checkGate();
    if (this.gateOpen) return;
    this.later(Math.max(0, leasesEndAt - monotonicNow()), async () => {
      // A timer may fire a millisecond early against the monotonic clock; the gate must not open early.
      await sleepUntil(leasesEndAt, this.signal);
      if (this.gateOpen) return;
      const missing = [...(this.awaited ?? [])];
      const why = this.awaited
        ? "the missing taskmanagers' task leases ran out"
        : "the taskmanager registry was unreadable, and every task lease granted before us ran out";
      this.awaited = new Set();
      this.options.logger.info(`deploying recovered jobs: ${why}`, { missing, epoch: this.epoch });
      this.open();
      if (missing.length === 0) return;
      // Whatever they ran under older leaders has stopped; if they come back, we list them again first.
      await this.registryWriter?.unlist(missing).catch((e: unknown) => {
        if (this.session.isValid()) {
          this.options.logger.warn("could not unlist taskmanagers that never re-registered", {
            missing,
            error: e instanceof Error ? e.message : String(e),
          });
        }
      });
    });
  }

  private checkGate(): void {
    if (this.gateOpen || !this.awaited) return;
    for (const id of [...this.awaited]) if (this.resourceManager.isRegistered(id)) this.awaited.delete(id);
    if (this.awaited.size === 0) this.open();
  }

  private open(): void {
    this.gateOpen = true;
    this.openGate();
  }

  /**
   * The registry; undefined when the record is corrupt: then nobody knows which TaskManagers may still run
   * old tasks, and the gate waits out the whole lease time (after which the record is overwritten).
   */
  private async readRegistry(): Promise<TaskManagerRegistryContents | undefined> {
    try {
      return await this.options.registry.get();
    } catch (e: unknown) {
      if (!(e instanceof CorruptRecordError)) throw e;
      this.options.logger.error("the taskmanager registry cannot be read; waiting out every task lease", {
        error: e.message,
        epoch: this.epoch,
      });
      return undefined;
    }
  }

  private onResourcesChanged(): void {
    this.checkGate();
    this.resources.notify();
  }

  /** Runs `task` after `ms` unless the session ended; the timer is owned by this context. */
  private later(ms: number, task: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.signal.aborted) return;
      task().catch((e: unknown) => {
        if (!this.signal.aborted) this.options.logger.error("leader task failed", { error: String(e) });
      });
    }, ms);
    this.timers.add(timer);
  }

  /** Retries a store action with back-off until it succeeds; rejects once the session ended. */
  private async retrying<T>(what: string, action: () => Promise<T>): Promise<T> {
    for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      this.signal.throwIfAborted();
      this.session.assertLeader();
      try {
        return await action();
      } catch (e: unknown) {
        this.signal.throwIfAborted();
        this.session.assertLeader();
        this.options.logger.warn(`could not ${what}; retrying`, {
          epoch: this.epoch,
          error: e instanceof Error ? e.message : String(e),
        });
        await sleep(delay, this.signal);
      }
    }
  }
}
