// What the benchmark process and its worker TaskManagers (streaming-worker.ts) say to each other over the
// Node IPC channel (advanced serialization, so bigint and Uint8Array pass as they are). The benchmark plays the
// JobManager: it deploys tasks, relays checkpoint commands and receives acks, and reads counters and memory.
import type { OperatorSubtaskState, TaskDescriptor } from "../src/generated/records.ts";

/** A cumulative count and when (the worker's performance.now()) it was last brought up to date. */
export interface Counter {
  readonly atMs: number;
  readonly total: number;
}

export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** One producer of the raw-gRPC baseline: what its task would be (subtask, outputs) without the runtime. */
export interface RawProducerSpec {
  readonly name: string;
  readonly task: TaskDescriptor;
}

/** One consumer stream of the raw-gRPC baseline: subpartition `subpartition` of producer `producer`. */
export interface RawStreamSpec {
  readonly producer: string;
  readonly subpartition: number;
}

/** Every request with its arguments and its result. */
export interface WorkerOps {
  /** Starts tasks through the TaskManager's stream task runner; resolves once each was handed to it. */
  deploy: { args: { tasks: TaskDescriptor[] }; result: undefined };
  /** Cancels every task of this worker; resolves once all settled. */
  cancel: { args: Record<string, never>; result: undefined };
  /** Records counted: per task ("task:<executionId>"), and "raw" (baseline consumer), "slow-sink". */
  counters: { args: Record<string, never>; result: Record<string, Counter> };
  memory: { args: Record<string, never>; result: MemorySample };
  checkpoint: {
    args: {
      command: "trigger" | "notify" | "abort";
      executionId: string;
      checkpointId: bigint;
      timestampMs: number;
    };
    result: undefined;
  };
  /** Baseline producers: each starts once a stream for every one of its subpartitions has connected. */
  "raw-produce": { args: { producers: RawProducerSpec[] }; result: undefined };
  "raw-consume": { args: { address: string; streams: RawStreamSpec[] }; result: undefined };
  /** Stops the baseline's producers and consumers. */
  "raw-stop": { args: Record<string, never>; result: undefined };
}

export type WorkerOp = keyof WorkerOps;

export interface WorkerRequest<K extends WorkerOp = WorkerOp> {
  readonly id: number;
  readonly op: K;
  readonly args: WorkerOps[K]["args"];
}

export type WorkerMessage =
  | { readonly kind: "reply"; readonly id: number; readonly value: unknown }
  | { readonly kind: "failed"; readonly id: number; readonly error: string }
  | { readonly kind: "ready"; readonly address: string }
  | {
      readonly kind: "ack";
      readonly executionId: string;
      readonly checkpointId: bigint;
      readonly states: OperatorSubtaskState[];
    }
  | {
      readonly kind: "decline";
      readonly executionId: string;
      readonly checkpointId: bigint;
      readonly reason: string;
    }
  /** A task ended; `error` unless it finished (a cancel by the benchmark is not reported). */
  | { readonly kind: "task-ended"; readonly executionId: string; readonly error: string | undefined };
