// One triggered checkpoint (or savepoint) waiting for the acknowledgements of every task of the attempt it
// was triggered on (Flink's PendingCheckpoint).
import { monotonicNow } from "../common/clock.ts";
import type { BlobRef, OperatorSubtaskState } from "../generated/records.ts";
import type { CheckpointTask } from "./gateway.ts";

/** What a savepoint is for: where it goes, and whether the job stops with it. */
export interface SavepointTarget {
  /** An absolute directory; the savepoint becomes a new directory in it (savepoint-directory.ts). */
  readonly directory: string;
  /**
   * Stop-with-savepoint: sources emit nothing after its barrier and end once it completed; it is added to the
   * completed-checkpoint store and notified like a checkpoint, so sinks commit everything before it.
   */
  readonly stop: boolean;
}

export interface SavepointResult {
  readonly checkpointId: bigint;
  /** The savepoint's directory; restore from it with vigil run --from-savepoint. */
  readonly path: string;
}

export type AckResult =
  | { readonly kind: "accepted" }
  | { readonly kind: "duplicate" }
  | { readonly kind: "unknown-task" }
  | { readonly kind: "invalid"; readonly problem: string };

/** pending: collecting acks; completing: every task acked, files and pointer being written; done: over. */
export type PendingPhase = "pending" | "completing" | "done";

export class PendingCheckpoint {
  phase: PendingPhase = "pending";
  timeout: NodeJS.Timeout | undefined;
  /** Monotonic ms at trigger, for the duration. */
  readonly startedAt = monotonicNow();
  private readonly byExecution: ReadonlyMap<string, CheckpointTask>;
  private readonly acks = new Map<string, readonly OperatorSubtaskState[]>();
  private settle: { resolve(r: SavepointResult): void; reject(e: Error): void } | undefined;
  /** A savepoint's outcome; undefined for a checkpoint. */
  readonly result: Promise<SavepointResult> | undefined;

  constructor(
    readonly checkpointId: bigint,
    /** Wall-clock ms at trigger, recorded in the metadata and sent to the tasks. */
    readonly timestampMs: number,
    readonly tasks: readonly CheckpointTask[],
    /** Set for a savepoint. */
    readonly target?: SavepointTarget,
  ) {
    this.byExecution = new Map(tasks.map((t) => [t.executionId, t]));
    if (target) {
      this.result = new Promise<SavepointResult>((resolve, reject) => {
        this.settle = { resolve, reject };
      });
      // The caller awaits it; this only keeps an early rejection from counting as unhandled.
      this.result.catch(() => {});
    }
  }

  get savepoint(): boolean {
    return this.target !== undefined;
  }

  /** A checkpoint, or a stop-with-savepoint: completed through the store and notified to the tasks. */
  get committing(): boolean {
    return this.target === undefined || this.target.stop;
  }

  get acknowledged(): number {
    return this.acks.size;
  }

  get fullyAcknowledged(): boolean {
    return this.acks.size === this.tasks.length;
  }

  /** True when every task of this checkpoint is among `executionIds` (the attempt did not change). */
  belongsTo(executionIds: ReadonlySet<string>): boolean {
    return this.tasks.every((t) => executionIds.has(t.executionId));
  }

  /**
   * Records a task's states. They must be exactly one state per operator of the task's chain, each naming the
   * task's subtask and parallelism: a restore could not place anything else.
   */
  acknowledge(executionId: string, states: readonly OperatorSubtaskState[]): AckResult {
    const task = this.byExecution.get(executionId);
    if (!task) return { kind: "unknown-task" };
    if (this.acks.has(executionId)) return { kind: "duplicate" };
    const problem = describeMismatch(task, states);
    if (problem) return { kind: "invalid", problem };
    this.acks.set(executionId, states);
    return { kind: "accepted" };
  }

  /** True once `executionId` acknowledged. */
  hasAcknowledged(executionId: string): boolean {
    return this.acks.has(executionId);
  }

  /** The states `executionId` acknowledged, if it did. */
  statesOf(executionId: string): readonly OperatorSubtaskState[] | undefined {
    return this.acks.get(executionId);
  }

  /** Every acknowledged state, in task order then operator order. */
  states(): OperatorSubtaskState[] {
    return this.tasks.flatMap((t) => [...(this.acks.get(t.executionId) ?? [])]);
  }

  resolve(result: SavepointResult): void {
    this.settle?.resolve(result);
  }

  reject(error: Error): void {
    this.settle?.reject(error);
  }
}

function describeMismatch(task: CheckpointTask, states: readonly OperatorSubtaskState[]): string | undefined {
  const seen = new Set<string>();
  for (const s of states) {
    if (!task.operatorUids.includes(s.operatorUid)) {
      return `state for operator ${JSON.stringify(s.operatorUid)}, which is not in the task's chain (${task.operatorUids.join(", ")})`;
    }
    if (seen.has(s.operatorUid)) return `two states for operator ${JSON.stringify(s.operatorUid)}`;
    seen.add(s.operatorUid);
    if (s.subtask !== task.subtask || s.parallelism !== task.parallelism) {
      return `state of operator ${JSON.stringify(s.operatorUid)} is for subtask ${s.subtask}/${s.parallelism}, the task is ${task.subtask}/${task.parallelism}`;
    }
  }
  const missing = task.operatorUids.filter((uid) => !seen.has(uid));
  if (missing.length > 0) return `no state for operator(s) ${missing.join(", ")}`;
  return undefined;
}

/** How messages and logs name a checkpoint: "checkpoint 7 of job j" or "savepoint 7 of job j". */
export function describeCheckpoint(p: PendingCheckpoint, jobId: string): string {
  return `${p.savepoint ? "savepoint" : "checkpoint"} ${p.checkpointId} of job ${jobId}`;
}

/** The state blobs that `states` reference. */
export function stateRefs(states: readonly OperatorSubtaskState[]): BlobRef[] {
  return states.flatMap((s) => (s.state ? [s.state] : []));
}
