// An in-process job for tests of the task runtime (no test framework imports here): the TaskDescriptors a
// scheduler would deploy for a linear pipeline, and a LocalJob that runs them over memory channels with a
// minimal checkpoint coordinator.
import { CancelledError } from "../../common/errors.ts";
import type {
  JobVertex,
  OperatorSubtaskState,
  Partitioning,
  TaskDescriptor,
} from "../../generated/records.ts";
import type { FileBlobStore } from "../../storage/blob-store.ts";
import type { FunctionLookup } from "./operators.ts";
import type { StreamOperatorRegistry } from "./registry.ts";
import { runStreamTask, type SnapshotKind, type StreamTask } from "./task.ts";
import { LocalNetwork } from "./testing.ts";

/** One chain of a linear test job and the partitioning of the edge into it. */
export interface Stage {
  readonly chain: readonly JobVertex[];
  readonly parallelism: number;
  /** The edge from the previous stage (ignored for the first). */
  readonly partitioning?: Partitioning;
}

/** A checkpoint every task acked: its id and all their states (what a coordinator would store). */
export interface CompletedCheckpoint {
  readonly checkpointId: bigint;
  readonly states: readonly OperatorSubtaskState[];
}

/**
 * The TaskDescriptors of a linear job (stage k feeds stage k+1), as a scheduler would deploy them. With
 * `restore`, every task gets every state of its operators' uids (restore picks its own, or rescales).
 */
export function linearJobTasks(
  stages: readonly Stage[],
  options: { jobId?: string; attempt?: number; epoch?: bigint; restore?: CompletedCheckpoint } = {},
): TaskDescriptor[] {
  const jobId = options.jobId ?? "job-1";
  const attempt = options.attempt ?? 0;
  const epoch = options.epoch ?? 1n;
  const executionId = (stage: Stage, subtask: number): string =>
    `${jobId}/${stage.chain[0]!.id}/${subtask}/${attempt}@${epoch}`;
  const tasks: TaskDescriptor[] = [];
  stages.forEach((stage, k) => {
    const previous = stages[k - 1];
    const next = stages[k + 1];
    const uids = new Set(stage.chain.map((v) => v.id));
    for (let subtask = 0; subtask < stage.parallelism; subtask++) {
      tasks.push({
        jobId,
        executionId: executionId(stage, subtask),
        subtask,
        parallelism: stage.parallelism,
        attempt,
        chain: stage.chain.map((v) => ({ ...v, parallelism: stage.parallelism })),
        slot: 0,
        epoch,
        inputs:
          previous === undefined
            ? []
            : [
                {
                  upstreamVertex: previous.chain[previous.chain.length - 1]!.id,
                  targetVertex: stage.chain[0]!.id,
                  partitioning: stage.partitioning ?? "PARTITIONING_FORWARD",
                  producers: Array.from({ length: previous.parallelism }, (_, i) => ({
                    executionId: executionId(previous, i),
                    taskmanagerAddress: "local",
                    subtask: i,
                  })),
                },
              ],
        outputs:
          next === undefined
            ? []
            : [
                {
                  sourceVertex: stage.chain[stage.chain.length - 1]!.id,
                  downstreamVertex: next.chain[0]!.id,
                  partitioning: next.partitioning ?? "PARTITIONING_FORWARD",
                  consumers: next.parallelism,
                },
              ],
        restore: options.restore?.states.filter((s) => uids.has(s.operatorUid)) ?? [],
        restoredCheckpointId: options.restore?.checkpointId ?? 0n,
      });
    }
  });
  return tasks;
}

export interface LocalJobOptions {
  readonly tasks: readonly TaskDescriptor[];
  readonly blobs: FileBlobStore;
  readonly functions: FunctionLookup;
  readonly checkpointing: boolean;
  readonly operators?: StreamOperatorRegistry;
  readonly stdout?: (text: string) => void;
  readonly capacity?: number;
}

interface RunningTask {
  readonly descriptor: TaskDescriptor;
  readonly controller: AbortController;
  readonly task: StreamTask;
  outcome: { readonly ok: true } | { readonly ok: false; readonly error: unknown } | undefined;
  records: number;
  lastStates: OperatorSubtaskState[] | undefined;
}

/**
 * Runs a job's tasks in-process over memory channels, with a minimal checkpoint coordinator: trigger the
 * running source tasks, collect acks (a finished task counts with its last states, which its final checkpoint
 * recorded), complete, notify. Test aid only: no timeouts, no persistence.
 */
export class LocalJob {
  readonly tasks: RunningTask[];
  private readonly acks = new Map<bigint, Map<string, OperatorSubtaskState[]>>();
  private readonly declines = new Map<bigint, string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: LocalJobOptions) {
    const network = new LocalNetwork(options.capacity);
    this.tasks = options.tasks.map((descriptor) => {
      const controller = new AbortController();
      const progress: Pick<RunningTask, "records" | "lastStates"> = { records: 0, lastStates: undefined };
      const task = runStreamTask({
        task: descriptor,
        signal: controller.signal,
        blobs: options.blobs,
        functions: options.functions,
        openInput: (gate, producer) => network.openInput(descriptor, gate, producer),
        openOutput: (output, subpartition) => network.openOutput(descriptor, output, subpartition),
        ack: (id, states) => {
          running.lastStates = states;
          let acks = this.acks.get(id);
          if (acks === undefined) {
            acks = new Map();
            this.acks.set(id, acks);
          }
          acks.set(descriptor.executionId, states);
        },
        decline: (id, reason) => {
          this.declines.set(id, reason);
        },
        checkpointing: options.checkpointing,
        ...(options.stdout ? { stdout: options.stdout } : {}),
        ...(options.operators ? { operators: options.operators } : {}),
        onRecords: (total) => {
          running.records = total;
        },
      });
      const running: RunningTask = { descriptor, controller, task, outcome: undefined, ...progress };
      task.done.then(
        () => {
          running.outcome = { ok: true };
        },
        (error: unknown) => {
          running.outcome = { ok: false, error };
        },
      );
      return running;
    });
  }

  get allDone(): boolean {
    return this.tasks.every((t) => t.outcome !== undefined);
  }

  /** The first task failure (not a cancel by this job), if any. */
  get failure(): unknown {
    const failed = this.tasks.find((t) => t.outcome?.ok === false && !t.controller.signal.aborted);
    return failed?.outcome?.ok === false ? failed.outcome.error : undefined;
  }

  /** Triggers checkpoint `id` on every running source task (as the checkpoint coordinator does). */
  trigger(id: bigint, kind: SnapshotKind = "checkpoint"): void {
    for (const t of this.tasks) {
      if (t.outcome === undefined && t.descriptor.inputs.length === 0) {
        t.task.triggerCheckpoint(id, Date.now(), kind);
      }
    }
  }

  /** Tells every running task that checkpoint `id` was aborted. */
  abort(id: bigint): void {
    for (const t of this.tasks) if (t.outcome === undefined) t.task.abortCheckpoint(id);
  }

  /** The checkpoint once every task acked it (finished tasks with their last states); undefined until then. */
  acknowledged(id: bigint): CompletedCheckpoint | undefined {
    const decline = this.declines.get(id);
    if (decline !== undefined) throw new Error(`checkpoint ${id} declined: ${decline}`);
    const acks = this.acks.get(id) ?? new Map<string, OperatorSubtaskState[]>();
    const states: OperatorSubtaskState[] = [];
    for (const t of this.tasks) {
      const acked = acks.get(t.descriptor.executionId) ?? (t.outcome?.ok ? t.lastStates : undefined);
      if (acked === undefined) return undefined;
      states.push(...acked);
    }
    return { checkpointId: id, states };
  }

  /**
   * Notifies every running task that `id` is complete; tasks with inputs only after `lagMs`, as when the
   * notifications to other TaskManagers arrive later than the sources' (a task must not end before its own).
   */
  notifyComplete(id: bigint, lagMs = 0): void {
    for (const t of this.tasks) {
      if (t.outcome !== undefined) continue;
      if (lagMs === 0 || t.descriptor.inputs.length === 0) {
        t.task.notifyCheckpointComplete(id);
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (t.outcome === undefined) t.task.notifyCheckpointComplete(id);
      }, lagMs);
      this.timers.add(timer);
    }
  }

  /** Cancels every task; resolves once all settled. */
  async cancel(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const t of this.tasks) t.controller.abort(new CancelledError("test: job cancelled"));
    await Promise.allSettled(this.tasks.map((t) => t.task.done));
  }

  /** Every task's done promise (rejects with the first failure). */
  async done(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.task.done));
  }
}
