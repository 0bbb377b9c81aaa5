// The operator contract. An operator kind (JobVertex.operator_kind) is an OperatorDefinition: its role in a
// chain, and `configure`, which validates the vertex's config and returns a factory for one subtask's
// instance. Submission calls `configure` only to validate; a TaskManager calls it again and then the factory.
// Keeping validation and creation in one function means a config that passed submission builds exactly the
// operator that was validated.
//
// Life of an instance, driven by the chain loop in ../task.ts (as Flink's StreamOperator, FLIP-147):
// open() → records (Source.next / Transform.process / Sink.write) → finish() at end of input (sinks flush) →
// close() always, exactly once for every opened instance, also after a failure or a cancel.
// Records travel in small batches; an operator may keep no reference to a batch after its call returns.
import type { JobVertex } from "../../generated/records.ts";
import type { ConfigReader } from "../config-reader.ts";

/** One record. Built-in sources emit numbers; later sources may emit any JSON-like value. */
export type StreamRecord = unknown;

export interface OperatorContext {
  readonly jobId: string;
  readonly vertex: JobVertex;
  /** 0-based index of this subtask among `parallelism`. */
  readonly subtask: number;
  readonly parallelism: number;
  /** 0 for a job's first deployment under a leader, +1 at each restart. */
  readonly attempt: number;
  /** The epoch of the leader that deployed this attempt; (epoch, attempt) is unique across failovers. */
  readonly epoch: bigint;
  /** Aborted when the task is cancelled; waits inside an operator must end promptly when it fires. */
  readonly signal: AbortSignal;
  /** file:///… of the shared storage, if configured. */
  readonly storageDir: string | undefined;
}

export interface OperatorLifecycle {
  /** Acquires resources (files, connections) before the first record. */
  open(): Promise<void>;
  /**
   * Releases resources without flushing. Called exactly once for every instance whose open() was called,
   * even when open() failed part way.
   */
  close(): Promise<void>;
}

export interface Source extends OperatorLifecycle {
  /**
   * The next batch (never empty), or undefined once the source is exhausted. May wait (rate limits, I/O);
   * rejects with the context's signal.reason when it aborts while waiting.
   */
  next(): Promise<readonly StreamRecord[] | undefined>;
}

export interface Transform extends OperatorLifecycle {
  /** Records out for a batch in (possibly none); throwing fails the task. */
  process(batch: readonly StreamRecord[]): readonly StreamRecord[] | Promise<readonly StreamRecord[]>;
}

export interface Sink extends OperatorLifecycle {
  write(batch: readonly StreamRecord[]): Promise<void>;
  /** End of input: make everything written durable. Not called on failure or cancel. */
  finish(): Promise<void>;
}

interface DefinitionBase {
  /** The operator kind, e.g. "source.sequence". */
  readonly kind: string;
  /** One line for listings and error messages. */
  readonly summary: string;
}

/** Validates a vertex's config (reading every key it accepts; the caller refuses the rest). */
export type Configure<T> = (config: ConfigReader) => (context: OperatorContext) => T;

export type OperatorDefinition =
  | (DefinitionBase & { readonly role: "source"; readonly configure: Configure<Source> })
  | (DefinitionBase & { readonly role: "transform"; readonly configure: Configure<Transform> })
  | (DefinitionBase & { readonly role: "sink"; readonly configure: Configure<Sink> });

export type OperatorRole = OperatorDefinition["role"];
