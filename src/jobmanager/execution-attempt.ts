// One attempt at running a job: an execution per subtask, all placed in slots at once (one slot per subtask),
// deployed, and followed through the states their TaskManagers report. Execution ids are
// <job>/<chain head vertex>/<subtask>/<attempt>@<epoch>: unique across attempts and leaders.
import type { Logger } from "../common/logger.ts";
import type { ExecutionState, TaskStatus, TaskSummary } from "../generated/records.ts";
import type { TaskChainPlan } from "../runtime/job-graph.ts";
import { Notifier } from "./notifier.ts";
import type { ResourceManager } from "./resource-manager.ts";
import { isTerminal } from "./slot-pool.ts";

export interface ExecutionAttemptOptions {
  readonly jobId: string;
  readonly attempt: number;
  readonly epoch: bigint;
  readonly plans: readonly TaskChainPlan[];
  readonly resourceManager: ResourceManager;
  /** Aborts when leadership ends: stop quietly. */
  readonly signal: AbortSignal;
  /** How often to repeat cancel commands that got no answer. */
  readonly retryMs: number;
  readonly logger: Logger;
}

/** "running": every task runs (or already finished); a failure names the first failed task. */
export type AttemptOutcome = "running" | "finished" | { readonly error: string };

interface Execution {
  readonly id: string;
  readonly plan: TaskChainPlan;
  readonly subtask: number;
  taskmanagerId: string;
  /** The TaskManager accepted the deployment (its task-deployed event was emitted). */
  deployed: boolean;
  state: ExecutionState;
  records: bigint;
  error: string;
}

export class ExecutionAttempt {
  /** Notified whenever an execution's state changes. */
  readonly changed = new Notifier();
  private readonly executions: Execution[];

  constructor(private readonly options: ExecutionAttemptOptions) {
    const { jobId, attempt, epoch } = options;
    this.executions = options.plans.flatMap((plan) =>
      Array.from({ length: plan.parallelism }, (_, subtask) => ({
        id: `${jobId}/${plan.id}/${subtask}/${attempt}@${epoch}`,
        plan,
        subtask,
        taskmanagerId: "",
        deployed: false,
        state: "EXECUTION_STATE_UNSPECIFIED" as ExecutionState,
        records: 0n,
        error: "",
      })),
    );
  }

  /** Places every execution in a free slot, or none (false: not enough free slots). */
  place(): boolean {
    const requests = this.executions.map((e) => ({ executionId: e.id, observer: this.observer(e) }));
    const placements = this.options.resourceManager.allocate(requests);
    placements?.forEach((p, i) => {
      this.executions[i]!.taskmanagerId = p.taskmanagerId;
      this.executions[i]!.state = "EXECUTION_STATE_DEPLOYING";
    });
    return placements !== undefined;
  }

  /** Sends every deployment (placed executions only); a failed one marks its execution FAILED. */
  deploy(): void {
    for (const e of this.executions) void this.deployOne(e);
  }

  /** Undefined while tasks are still being deployed. */
  outcome(): AttemptOutcome | undefined {
    const failed = this.executions.find(
      (e) => e.state === "EXECUTION_STATE_FAILED" || e.state === "EXECUTION_STATE_CANCELED",
    );
    if (failed) {
      const what = failed.state === "EXECUTION_STATE_FAILED" ? "failed" : "was canceled";
      const why = failed.error ? `: ${failed.error}` : "";
      return { error: `task ${failed.id} on taskmanager ${failed.taskmanagerId} ${what}${why}` };
    }
    // A task may report RUNNING before its deployment's answer arrives; the job is up only once every
    // deployment was accepted, so that each task-deployed event precedes the job's RUNNING.
    if (!this.executions.every((e) => e.deployed)) return undefined;
    if (this.executions.every((e) => e.state === "EXECUTION_STATE_FINISHED")) return "finished";
    const up = (e: Execution): boolean =>
      e.state === "EXECUTION_STATE_RUNNING" || e.state === "EXECUTION_STATE_FINISHED";
    return this.executions.every(up) ? "running" : undefined;
  }

  /**
   * Cancels every execution that still holds a slot and resolves once none does: each stopped, or its
   * TaskManager was lost. Cancels that get no answer are repeated. Rejects when leadership ends.
   */
  async stop(): Promise<void> {
    const { resourceManager: rm, signal } = this.options;
    for (;;) {
      const holding = this.executions.filter((e) => rm.holds(e.id));
      if (holding.length === 0) return;
      await Promise.all(
        holding.map((e) => rm.cancel(e.id).catch((err: unknown) => this.cancelFailed(e, err))),
      );
      signal.throwIfAborted();
      if (this.executions.some((e) => rm.holds(e.id))) await this.changed.next(signal, this.options.retryMs);
    }
  }

  runningTasks(): number {
    return this.executions.filter((e) => e.state === "EXECUTION_STATE_RUNNING").length;
  }

  tasks(): TaskSummary[] {
    return this.executions.map((e) => ({
      executionId: e.id,
      vertexId: e.plan.id,
      subtask: e.subtask,
      attempt: this.options.attempt,
      state: e.state,
      taskmanagerId: e.taskmanagerId,
      records: e.records,
    }));
  }

  private observer(e: Execution): (status: TaskStatus) => void {
    return (status) => {
      e.state = status.state;
      if (status.records > e.records) e.records = status.records;
      if (status.error !== "") e.error = status.error;
      this.changed.notify();
    };
  }

  private async deployOne(e: Execution): Promise<void> {
    try {
      await this.options.resourceManager.deploy({
        jobId: this.options.jobId,
        executionId: e.id,
        subtask: e.subtask,
        parallelism: e.plan.parallelism,
        attempt: this.options.attempt,
        chain: [...e.plan.vertices],
        // Chains without data exchange or checkpoints (issue 3's runtime): nothing to connect or restore.
        inputs: [],
        outputs: [],
        restore: [],
        restoredCheckpointId: 0n,
      });
      e.deployed = true;
      this.changed.notify();
    } catch (err: unknown) {
      if (this.options.signal.aborted || isTerminal(e.state)) return;
      // The outcome may be unknown (deadline): the task may run. stop() cancels it while it holds a slot.
      e.state = "EXECUTION_STATE_FAILED";
      e.error = `deploy failed: ${describe(err)}`;
      this.changed.notify();
    }
  }

  private cancelFailed(e: Execution, err: unknown): void {
    if (this.options.signal.aborted) return;
    this.options.logger.warn("cancel failed; repeating it until the task stops or its taskmanager is lost", {
      execution: e.id,
      error: describe(err),
    });
  }
}

export function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
