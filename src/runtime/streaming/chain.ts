// The operators of one task (a chain of forward-connected vertices) and the calls that go to all of them:
// restore + open + initializeState, pushing a batch through, finish, snapshot, checkpoint notifications, close.
// Records pass between chained operators as batches: each operator's output collector fills an array that
// becomes the next operator's input once its processBatch returned.
import { InvalidArgumentError } from "../../common/errors.ts";
import type { TaskDescriptor } from "../../generated/records.ts";
import type { KeyedStateBackend } from "../../state/keyed-state.ts";
import type { OperatorStateStore } from "../../state/operator-state.ts";
import { encodeState, restoreOperatorState } from "../../state/snapshot.ts";
import type { FileBlobStore } from "../../storage/blob-store.ts";
import type { StreamRecord } from "./elements.ts";
import type { FunctionLookup, StreamOperator, StreamOperatorContext, StreamSource } from "./operators.ts";
import type { StreamOperatorRegistry } from "./registry.ts";

export interface ChainSetup {
  readonly task: TaskDescriptor;
  readonly signal: AbortSignal;
  readonly blobs: FileBlobStore;
  readonly functions: FunctionLookup;
  readonly registry: StreamOperatorRegistry;
  readonly checkpointing: boolean;
  readonly stdout: (text: string) => void;
  readonly maxParallelism: number | undefined;
}

interface Member {
  readonly uid: string;
  readonly operator: StreamOperator | undefined;
  readonly source: StreamSource | undefined;
  keyed?: KeyedStateBackend;
  operatorState?: OperatorStateStore;
  out: StreamRecord[];
}

/** One operator's snapshot: its uid and its state bytes (undefined: no state). */
export interface OperatorSnapshot {
  readonly uid: string;
  readonly bytes: Uint8Array | undefined;
}

export class OperatorChain {
  readonly source: StreamSource | undefined;
  private readonly members: Member[];
  private readonly opened: Member[] = [];

  /** Validates the chain's shape and creates its operators (no I/O). */
  constructor(private readonly setup: ChainSetup) {
    const { task, registry } = setup;
    const where = `task ${task.executionId}`;
    if (task.chain.length === 0) throw new InvalidArgumentError(`${where}: the chain has no vertices`);
    if (!Number.isInteger(task.parallelism) || task.parallelism < 1 || task.subtask >= task.parallelism) {
      throw new InvalidArgumentError(
        `${where}: subtask ${task.subtask} of parallelism ${task.parallelism} is invalid`,
      );
    }
    const head = task.chain[0]!.id;
    const last = task.chain[task.chain.length - 1]!.id;
    for (const gate of task.inputs) {
      if (gate.targetVertex !== head) {
        throw new InvalidArgumentError(
          `${where}: input from ${gate.upstreamVertex} targets ${gate.targetVertex}, not the chain's head ${head}`,
        );
      }
    }
    for (const output of task.outputs) {
      if (output.sourceVertex !== last) {
        throw new InvalidArgumentError(
          `${where}: output to ${output.downstreamVertex} leaves from ${output.sourceVertex}, not the chain's last vertex ${last}`,
        );
      }
    }
    this.members = task.chain.map((vertex, i) => {
      const vertexWhere = `${where}: vertex ${vertex.id}`;
      const configured = registry.configure(vertex, vertexWhere);
      if (configured.role === "source") {
        if (i !== 0 || task.inputs.length > 0) {
          throw new InvalidArgumentError(
            `${vertexWhere}: ${configured.kind} is a source; a source can only head a chain without inputs`,
          );
        }
        return { uid: vertex.id, source: configured.create(), operator: undefined, out: [] };
      }
      if (i === 0 && task.inputs.length === 0) {
        throw new InvalidArgumentError(
          `${vertexWhere}: ${configured.kind} needs input; a chain without inputs starts with a source`,
        );
      }
      return { uid: vertex.id, source: undefined, operator: configured.create(), out: [] };
    });
    this.source = this.members[0]!.source;
  }

  /** Restores every operator's state from `task.restore`, then opens and initializes them, head first. */
  async open(): Promise<void> {
    const { task, signal } = this.setup;
    for (let i = 0; i < this.members.length; i++) {
      const member = this.members[i]!;
      const vertex = task.chain[i]!;
      const entries = task.restore.filter((s) => s.operatorUid === member.uid);
      const restored = await restoreOperatorState(this.setup.blobs, entries, {
        operatorUid: member.uid,
        subtask: task.subtask,
        parallelism: task.parallelism,
        ...(this.setup.maxParallelism === undefined ? {} : { maxParallelism: this.setup.maxParallelism }),
      });
      signal.throwIfAborted();
      member.keyed = restored.keyed;
      member.operatorState = restored.operator;
      const context: StreamOperatorContext = {
        jobId: task.jobId,
        vertex,
        uid: member.uid,
        subtask: task.subtask,
        parallelism: task.parallelism,
        attempt: task.attempt,
        epoch: task.epoch,
        signal,
        keyedState: restored.keyed,
        operatorState: restored.operator,
        output: {
          collect: member.source
            ? () => {
                throw new InvalidArgumentError(
                  `vertex ${member.uid}: a source emits by returning batches from next()`,
                );
              }
            : (record) => {
                member.out.push(record);
              },
        },
        functions: this.setup.functions,
        checkpointing: this.setup.checkpointing,
        stdout: this.setup.stdout,
      };
      const op = member.source ?? member.operator!;
      this.opened.push(member);
      await op.open(context);
      signal.throwIfAborted();
      await op.initializeState({
        checkpointId: restored.restored ? task.restoredCheckpointId : undefined,
        previousParallelism: restored.previousParallelism,
      });
      signal.throwIfAborted();
    }
  }

  /** Pushes a batch through the operators (after the source, if any); returns what the last one emitted. */
  async process(records: readonly StreamRecord[]): Promise<readonly StreamRecord[]> {
    return this.processFrom(this.source ? 1 : 0, records);
  }

  /** End of input: finishes every operator head first, pushing what each emits through the rest. */
  async finish(): Promise<readonly StreamRecord[]> {
    const emitted: StreamRecord[] = [];
    for (let i = this.source ? 1 : 0; i < this.members.length; i++) {
      const member = this.members[i]!;
      await member.operator!.finish();
      this.setup.signal.throwIfAborted();
      const out = member.out;
      member.out = [];
      if (out.length > 0) emitted.push(...(await this.processFrom(i + 1, out)));
    }
    return emitted;
  }

  /** Runs every operator's snapshotState, then encodes its state: the synchronous part of a checkpoint. */
  async snapshot(checkpointId: bigint): Promise<OperatorSnapshot[]> {
    const snapshots: OperatorSnapshot[] = [];
    for (const member of this.members) {
      await (member.source ?? member.operator!).snapshotState(checkpointId);
      this.setup.signal.throwIfAborted();
      let bytes: Uint8Array | undefined;
      try {
        bytes = encodeState(member.keyed!, member.operatorState!);
      } catch (e: unknown) {
        throw new InvalidArgumentError(
          `vertex ${member.uid}: its state cannot be snapshotted: ${e instanceof Error ? e.message : String(e)}; ` +
            "state values must be structured-clone values (no functions, class instances lose their class)",
        );
      }
      snapshots.push({ uid: member.uid, bytes });
    }
    return snapshots;
  }

  async notifyCheckpointComplete(checkpointId: bigint): Promise<void> {
    for (const member of this.members) {
      await (member.source ?? member.operator!).notifyCheckpointComplete(checkpointId);
      this.setup.signal.throwIfAborted();
    }
  }

  async abort(checkpointId: bigint): Promise<void> {
    for (const member of this.members) {
      await (member.source ?? member.operator!).abort(checkpointId);
      this.setup.signal.throwIfAborted();
    }
  }

  /** Closes every opened operator, last first; rejects with the first error after trying them all. */
  async close(): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const member of this.opened.splice(0).reverse()) {
      try {
        await (member.source ?? member.operator!).close();
      } catch (e: unknown) {
        failure ??= { error: e };
      }
    }
    if (failure) throw failure.error;
  }

  private async processFrom(
    start: number,
    records: readonly StreamRecord[],
  ): Promise<readonly StreamRecord[]> {
    let batch = records;
    for (let i = start; i < this.members.length; i++) {
      if (batch.length === 0) return batch;
      const member = this.members[i]!;
      const pending = member.operator!.processBatch(batch);
      if (pending !== undefined) await pending;
      this.setup.signal.throwIfAborted();
      batch = member.out;
      member.out = [];
    }
    return batch;
  }
}
