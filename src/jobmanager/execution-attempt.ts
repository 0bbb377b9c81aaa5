// One attempt at running a job: an execution per subtask, all placed in slots at once (one slot per subtask),
// deployed, and followed through the states their TaskManagers report. Execution ids are
// <job>/<chain head vertex>/<subtask>/<attempt>@<epoch>: unique across attempts and leaders.
import type { CheckpointTask } from "../checkpoint/gateway.ts";
import type { Logger } from "../common/logger.ts";
import type {
  CheckpointMetadata,
  ExecutionState,
  InputGateDescriptor,
  JobGraph,
  OutputDescriptor,
  TaskDescriptor,
  TaskStatus,
  TaskSummary,
} from "../generated/records.ts";
import type { TaskChainPlan } from "../runtime/job-graph.ts";
import { Notifier } from "./notifier.ts";
import type { ResourceManager } from "./resource-manager.ts";
import { isTerminal } from "./slot-pool.ts";

export interface ExecutionAttemptOptions {
  readonly jobId: string;
  readonly attempt: number;
  readonly epoch: bigint;
  readonly plans: readonly TaskChainPlan[];
  /** The job's graph, sent with every task (user functions, job config). */
  readonly graph: JobGraph;
  /** The latest completed checkpoint to restore from; undefined: start empty. */
  readonly restore: CheckpointMetadata | undefined;
  readonly resourceManager: ResourceManager;
  /** An execution reported FINISHED (the checkpoint coordinator counts it as acknowledged from then on). */
  readonly onFinished?: (executionId: string) => void;
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
  /** host:port of the TaskManager it is placed on (producers' addresses for consumers' input gates). */
  taskmanagerAddress: string;
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
        taskmanagerAddress: "",
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
      const e = this.executions[i]!;
      e.taskmanagerId = p.taskmanagerId;
      e.taskmanagerAddress = this.options.resourceManager.addressOf(p.taskmanagerId) ?? "";
      e.state = "EXECUTION_STATE_DEPLOYING";
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

  /**
   * The tasks for the checkpoint coordinator: every execution once all run (or finished), else none. A task's
   * upstream are the executions of the chains feeding its head.
   */
  checkpointTasks(): CheckpointTask[] {
    if (this.outcome() !== "running") return [];
    return this.executions.map((e) => ({
      executionId: e.id,
      subtask: e.subtask,
      parallelism: e.plan.parallelism,
      operatorUids: e.plan.vertices.map((v) => v.id),
      isSource: e.plan.inputs.length === 0,
      upstream: e.plan.inputs.flatMap((input) => this.executionsOf(input.chain).map((u) => u.id)),
      finished: e.state === "EXECUTION_STATE_FINISHED",
    }));
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
      const finished = status.state === "EXECUTION_STATE_FINISHED" && e.state !== status.state;
      e.state = status.state;
      if (finished) this.options.onFinished?.(e.id);
      if (status.records > e.records) e.records = status.records;
      if (status.error !== "") e.error = status.error;
      this.changed.notify();
    };
  }

  private async deployOne(e: Execution): Promise<void> {
    try {
      await this.options.resourceManager.deploy(this.descriptor(e));
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

  /** Everything a TaskManager needs to run `e`: its chain, where its inputs come from, what to restore. */
  private descriptor(e: Execution): Omit<TaskDescriptor, "slot" | "epoch"> {
    const { plan, subtask } = e;
    const inputs: InputGateDescriptor[] = plan.inputs.map(({ edge, chain }) => ({
      upstreamVertex: edge.source,
      targetVertex: edge.target,
      partitioning: edge.partitioning,
      producers: this.executionsOf(chain).map((p) => ({
        executionId: p.id,
        taskmanagerAddress: p.taskmanagerAddress,
        subtask: p.subtask,
      })),
    }));
    const outputs: OutputDescriptor[] = plan.outputs.map(({ edge, chain }) => ({
      sourceVertex: edge.source,
      downstreamVertex: edge.target,
      partitioning: edge.partitioning,
      consumers: this.planOf(chain).parallelism,
    }));
    const uids = new Set(plan.vertices.map((v) => v.id));
    const restore = this.options.restore;
    return {
      jobId: this.options.jobId,
      executionId: e.id,
      subtask,
      parallelism: plan.parallelism,
      attempt: this.options.attempt,
      chain: [...plan.vertices],
      inputs,
      outputs,
      // Every subtask's states of the chain's operators: after a rescale the task picks its key groups and
      // list-state shares out of all of them.
      restore: restore?.states.filter((s) => uids.has(s.operatorUid)) ?? [],
      restoredCheckpointId: restore?.checkpointId ?? 0n,
      jobGraph: this.options.graph,
    };
  }

  /** The executions of chain `id`, in subtask order. */
  private executionsOf(id: string): Execution[] {
    return this.executions.filter((x) => x.plan.id === id).sort((a, b) => a.subtask - b.subtask);
  }

  private planOf(id: string): TaskChainPlan {
    const plan = this.options.plans.find((p) => p.id === id);
    if (!plan) throw new Error(`no task plan for chain ${id}`);
    return plan;
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
