// The streaming operator contract (as Flink's StreamOperator with FLIP-147's finish): what the task runtime in
// task.ts calls, in this order, on one thread of control — never two calls of one operator at a time:
//   open(context) → initializeState(restore) → processBatch* / next* interleaved with
//   snapshotState(n) (then the runtime serializes the operator's state stores), notifyCheckpointComplete(n),
//   abort(n) → finish() at end of input (not after a failure or cancel) → close() always, exactly once for
//   every operator whose open() was called.
// State lives in the stores the context hands out (keyed ValueState, operator ListState); snapshotState is the
// hook to put in-flight data (a source position, a sink transaction) into them. Records travel in batches; an
// operator may keep no reference to a batch after its call returns.

import { InvalidArgumentError } from "../../common/errors.ts";
import type { JobVertex } from "../../generated/records.ts";
import type { KeyedStateBackend } from "../../state/keyed-state.ts";
import type { OperatorStateStore } from "../../state/operator-state.ts";
import type { ConfigReader } from "../config-reader.ts";
import type { StreamRecord } from "./elements.ts";

/** User code by uid: a vertex's function under its vertex id, a keyed vertex's key selector under keySelectorUid. */
export type FunctionLookup = (uid: string) => unknown;

/**
 * The uid of the key selector of keyed vertex `vertexId`, used by the hash partitioner of every edge into it and
 * by the keyed operator itself (the DataStream API's keySelectorId: ':' never occurs in a vertex id).
 */
export function keySelectorUid(vertexId: string): string {
  return `${vertexId}:key`;
}

/** The function registered as `uid`; InvalidArgumentError starting with `where` when there is none. */
export function requireFunction<F extends (...args: never[]) => unknown>(
  functions: FunctionLookup,
  uid: string,
  where: string,
): F {
  const f = functions(uid);
  if (typeof f !== "function") {
    throw new InvalidArgumentError(
      `${where}: no function is registered as ${JSON.stringify(uid)} (got ${f === undefined ? "nothing" : typeof f}); the application must define it`,
    );
  }
  return f as F;
}

/** Where an operator's records go: the next operator of the chain, or the task's outputs. */
export interface Output {
  collect(record: StreamRecord): void;
}

export interface StreamOperatorContext {
  readonly jobId: string;
  readonly vertex: JobVertex;
  /** The operator's stable uid (the vertex id): state is matched to operators by it across restores. */
  readonly uid: string;
  /** 0-based index of this subtask among `parallelism`. */
  readonly subtask: number;
  readonly parallelism: number;
  readonly attempt: number;
  readonly epoch: bigint;
  /** Aborted when the task is cancelled: every wait inside an operator must end promptly when it fires. */
  readonly signal: AbortSignal;
  /** Keyed state over the key groups this subtask owns (empty for non-keyed operators). */
  readonly keyedState: KeyedStateBackend;
  readonly operatorState: OperatorStateStore;
  readonly output: Output;
  readonly functions: FunctionLookup;
  /** True when the job takes checkpoints: a two-phase-commit sink then commits only on checkpoint completion. */
  readonly checkpointing: boolean;
  /** Standard output of the TaskManager (sink.print); receives whole lines with their "\n". */
  readonly stdout: (text: string) => void;
}

export interface RestoreInfo {
  /** The checkpoint the operator's state comes from; undefined on a fresh start or for an operator new to it. */
  readonly checkpointId: bigint | undefined;
  /** The parallelism the state was written with; differs from the current one after a rescale. */
  readonly previousParallelism: number | undefined;
}

interface StreamLifecycle {
  /** Acquires resources and keeps the context; state stores already hold the restored state. */
  open(context: StreamOperatorContext): Promise<void>;
  /** Reads the restored state (and for sinks: re-commits the restored transactions). Called once, after open. */
  initializeState(restore: RestoreInfo): Promise<void>;
  /**
   * Puts what checkpoint `checkpointId` needs into the state stores; the runtime serializes them as soon as
   * this returns, before any other call.
   */
  snapshotState(checkpointId: bigint): void | Promise<void>;
  /** Checkpoint `checkpointId` (and so every earlier one) is complete. Idempotent. */
  notifyCheckpointComplete(checkpointId: bigint): Promise<void>;
  /** Checkpoint `checkpointId` will never complete. Idempotent. */
  abort(checkpointId: bigint): Promise<void>;
  /** Releases resources without flushing; also after a failure or cancel. */
  close(): Promise<void>;
}

export interface StreamOperator extends StreamLifecycle {
  /** Processes records in; emits through context.output. Throwing fails the task. */
  processBatch(records: readonly StreamRecord[]): void | Promise<void>;
  /** End of input: emit what is buffered, make written data durable. Not called on failure or cancel. */
  finish(): Promise<void>;
}

export interface StreamSource extends StreamLifecycle {
  /**
   * The next batch (never empty), or undefined once exhausted. Returns promptly (a checkpoint is injected only
   * between two calls); may wait (rate limits, I/O), rejecting with the signal's reason when it aborts.
   */
  next(): Promise<readonly StreamRecord[] | undefined>;
}

/**
 * A sink with two-phase commit (as Flink's TwoPhaseCommittingSink), run by TwoPhaseCommitSinkOperator:
 * records go into the current transaction; on a barrier preCommit() ends it durably and the committable goes
 * into checkpoint state; on completion commit() makes it visible. `C` must be a structured-clone value.
 */
export interface TwoPhaseCommitSink<C> {
  open(context: StreamOperatorContext): Promise<void>;
  write(records: readonly StreamRecord[]): Promise<void>;
  /** Ends the current transaction durably; its committable, or undefined when it held no data. */
  preCommit(): Promise<C | undefined>;
  /**
   * Makes committables visible. Idempotent: an already committed one is fine, and two subtasks may commit
   * the same committable concurrently (after a rescaled restore every subtask re-commits all of them).
   */
  commit(committables: readonly C[]): Promise<void>;
  /**
   * After a restore (or a fresh start after a failure): deletes this subtask's share of earlier attempts'
   * uncommitted data, keeping the transactions in `keep` (the restored committables).
   */
  discardUncommitted(keep: readonly C[], restore: RestoreInfo): Promise<void>;
  /** Releases resources; the current transaction's data is left for discardUncommitted of the next attempt. */
  close(): Promise<void>;
}

/** No-op defaults for the lifecycle; built-in operators override what they need. */
export abstract class BaseOperator implements StreamOperator {
  protected context!: StreamOperatorContext;

  async open(context: StreamOperatorContext): Promise<void> {
    this.context = context;
  }
  async initializeState(_restore: RestoreInfo): Promise<void> {}
  snapshotState(_checkpointId: bigint): void | Promise<void> {}
  async notifyCheckpointComplete(_checkpointId: bigint): Promise<void> {}
  async abort(_checkpointId: bigint): Promise<void> {}
  abstract processBatch(records: readonly StreamRecord[]): void | Promise<void>;
  async finish(): Promise<void> {}
  async close(): Promise<void> {}
}

export abstract class BaseSource implements StreamSource {
  protected context!: StreamOperatorContext;

  async open(context: StreamOperatorContext): Promise<void> {
    this.context = context;
  }
  async initializeState(_restore: RestoreInfo): Promise<void> {}
  snapshotState(_checkpointId: bigint): void | Promise<void> {}
  async notifyCheckpointComplete(_checkpointId: bigint): Promise<void> {}
  async abort(_checkpointId: bigint): Promise<void> {}
  abstract next(): Promise<readonly StreamRecord[] | undefined>;
  async close(): Promise<void> {}
}

interface DefinitionBase {
  /** The operator kind (JobVertex.operator_kind), e.g. "user.map". */
  readonly kind: string;
  /** One line for listings and error messages. */
  readonly summary: string;
}

/**
 * An operator kind: `configure` validates a vertex's config (reading every key it accepts; the caller refuses
 * the rest) and returns the factory of one subtask's instance, so what passed validation is what runs.
 */
export type StreamOperatorDefinition =
  | (DefinitionBase & {
      readonly role: "source";
      readonly configure: (config: ConfigReader) => () => StreamSource;
    })
  | (DefinitionBase & {
      readonly role: "operator";
      readonly configure: (config: ConfigReader) => () => StreamOperator;
    });
