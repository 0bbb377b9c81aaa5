// The DataStream API (Flink's, reduced to what vigil runs): every call records a Transformation in the
// environment's pipeline; nothing runs until the JobGraph built from it is deployed. A stream is the set of
// operators whose records it carries: one for an operator's output, several after union.
import { resolve } from "node:path";
import { InvalidArgumentError } from "../common/errors.ts";
import {
  type Collector,
  type FunctionKind,
  type Key,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ProcessElement,
  type RegisteredFunction,
  registerFunction,
} from "./functions.ts";
import type { Input, OperatorKind, Pipeline, Transformation } from "./pipeline.ts";
import { readSink, type Sink } from "./sinks.ts";

/** Keys of T whose values are numbers: what sum(field) accepts. */
export type NumericField<T> = { [P in keyof T]-?: T[P] extends number ? P : never }[keyof T] & string;

interface OperatorCall {
  readonly method: string;
  readonly kind: OperatorKind;
  readonly uidPrefix: string;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly fn?: { readonly kind: FunctionKind; readonly value: unknown };
}

export class DataStream<T> {
  /** Created by the environment and by operators; applications never construct streams. */
  constructor(
    protected readonly pipeline: Pipeline,
    /** The operators whose records this stream carries (more than one after union). */
    readonly producers: readonly Transformation[],
  ) {}

  /** One record out per record in. */
  map<R>(fn: (value: T) => R): SingleOutputStreamOperator<R> {
    return this.apply({ method: "map", kind: "user.map", uidPrefix: "map", fn: { kind: "map", value: fn } });
  }

  /** Keeps the records for which `fn` is true. */
  filter<S extends T>(fn: (value: T) => value is S): SingleOutputStreamOperator<S>;
  filter(fn: (value: T) => boolean): SingleOutputStreamOperator<T>;
  filter(fn: (value: T) => boolean): SingleOutputStreamOperator<T> {
    return this.apply({
      method: "filter",
      kind: "user.filter",
      uidPrefix: "filter",
      fn: { kind: "filter", value: fn },
    });
  }

  /** Every element of the returned iterable (an array, a generator, …) is a record out. */
  flatMap<R>(fn: (value: T) => Iterable<R>): SingleOutputStreamOperator<R> {
    return this.apply({
      method: "flatMap",
      kind: "user.flat-map",
      uidPrefix: "flat-map",
      fn: { kind: "flat-map", value: fn },
    });
  }

  /**
   * Partitions by key: the next operator sees every record of a key in one subtask, with that key's state.
   * The selector runs on both sides of the shuffle, so it must be a pure function of the record.
   */
  keyBy<K extends Key>(keySelector: (value: T) => K): KeyedStream<K, T> {
    if (typeof keySelector !== "function") {
      throw new InvalidArgumentError(
        `keyBy(): the key selector must be a function, got ${typeof keySelector}`,
      );
    }
    return new KeyedStream(this.pipeline, this.producers, registerFunction("key-selector", keySelector));
  }

  /** One stream carrying the records of this one and of `others`, all of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    const producers = [...this.producers];
    for (const other of others) {
      if (!(other instanceof DataStream) || other.pipeline !== this.pipeline) {
        throw new InvalidArgumentError("union(): every argument must be a stream of the same environment");
      }
      for (const p of other.producers) {
        if (producers.includes(p)) {
          throw new InvalidArgumentError(
            `union(): the output of ${p.describe()} is given more than once; union each stream once`,
          );
        }
        producers.push(p);
      }
    }
    return new DataStream(this.pipeline, producers);
  }

  /** Writes every record to `sink` (made by fileSink(dir)). */
  sinkTo(sink: Sink): DataStreamSink {
    const read = readSink(sink);
    if (typeof read === "string") throw new InvalidArgumentError(`sinkTo(): ${read}`);
    const path = resolve(this.pipeline.workingDirectory, read.path);
    return new DataStreamSink(
      addOperator(this.pipeline, this.inputs(), {
        method: "sinkTo",
        kind: "sink.exactly-once-file",
        uidPrefix: "file-sink",
        config: { path },
      }),
    );
  }

  /** Prints every record as a line on the TaskManager's standard output, after `prefix` when given. */
  print(prefix?: string): DataStreamSink {
    if (prefix !== undefined && (typeof prefix !== "string" || prefix === "")) {
      throw new InvalidArgumentError(`print(${JSON.stringify(prefix)}): the prefix must be non-empty`);
    }
    return new DataStreamSink(
      addOperator(this.pipeline, this.inputs(), {
        method: "print",
        kind: "sink.print",
        uidPrefix: "print",
        config: { prefix },
      }),
    );
  }

  private inputs(): Input[] {
    return this.producers.map((producer) => ({ producer, keySelector: undefined }));
  }

  private apply<R>(call: OperatorCall): SingleOutputStreamOperator<R> {
    return new SingleOutputStreamOperator(this.pipeline, addOperator(this.pipeline, this.inputs(), call));
  }
}

/** The output of one operator, which can be given a uid, a name and a parallelism. */
export class SingleOutputStreamOperator<T> extends DataStream<T> {
  constructor(
    pipeline: Pipeline,
    readonly transformation: Transformation,
  ) {
    super(pipeline, [transformation]);
  }

  /**
   * The operator's stable id: its state in checkpoints and savepoints is found by it, so give one to every
   * stateful operator of a job you mean to evolve. 1-128 letters, digits, '.', '_' or '-'; unique in the job.
   */
  uid(uid: string): this {
    this.transformation.setUid(uid);
    return this;
  }

  /** A display name (defaults to the uid). */
  name(name: string): this {
    this.transformation.setName(name);
    return this;
  }

  /** Subtasks of this operator, 1 to 1024 (keyed operators: up to 128, the number of key groups). */
  setParallelism(parallelism: number): this {
    this.transformation.setParallelism(parallelism);
    return this;
  }
}

/** A stream partitioned by key; its operators keep per-key state. */
export class KeyedStream<K extends Key, T> {
  constructor(
    private readonly pipeline: Pipeline,
    private readonly producers: readonly Transformation[],
    private readonly keySelector: RegisteredFunction,
  ) {}

  /** Rolling reduce: per record, the key's accumulated value combined with it, emitted and kept. */
  reduce(fn: (accumulator: T, value: T) => T): SingleOutputStreamOperator<T> {
    return this.apply({
      method: "reduce",
      kind: "user.reduce",
      uidPrefix: "reduce",
      fn: { kind: "reduce", value: fn },
    });
  }

  /**
   * Rolling sum per key. On a stream of numbers: emits the key's sum so far. With `field`: emits each record
   * with `field` replaced by the key's sum of that field so far.
   */
  sum(this: KeyedStream<K, number>): SingleOutputStreamOperator<number>;
  sum(field: NumericField<T>): SingleOutputStreamOperator<T>;
  sum(
    this: KeyedStream<K, T> | KeyedStream<K, number>,
    field?: string,
  ): SingleOutputStreamOperator<T> | SingleOutputStreamOperator<number> {
    if (field !== undefined && (typeof field !== "string" || field === "")) {
      throw new InvalidArgumentError(`sum(${JSON.stringify(field)}): the field must be a non-empty string`);
    }
    return this.apply<T>({ method: "sum", kind: "user.sum", uidPrefix: "sum", config: { field } });
  }

  /** Calls `fn` per record with the record's key and that key's value state. */
  process<O>(fn: KeyedProcessFunction<K, T, O> | ProcessElement<K, T, O>): SingleOutputStreamOperator<O> {
    let element: ProcessElement<K, T, O> | undefined;
    if (typeof fn === "function") element = fn;
    else if (typeof fn === "object" && fn !== null && typeof fn.processElement === "function") {
      element = (v, ctx, out) => fn.processElement(v, ctx, out);
    }
    // The runtime passes one context that also collects; a returned value is dropped, as Flink's is, so the
    // runtime does not emit it a second time.
    const value =
      element === undefined
        ? fn
        : (v: T, ctx: KeyedProcessContext<K> & Collector<O>): void => {
            element(v, ctx, ctx);
          };
    return this.apply({
      method: "process",
      kind: "user.keyed-process",
      uidPrefix: "process",
      fn: { kind: "keyed-process", value },
    });
  }

  private apply<R>(call: OperatorCall): SingleOutputStreamOperator<R> {
    // The key selector's id is derived from the consumer's uid when the graph is built (keySelectorId).
    const inputs = this.producers.map((producer) => ({ producer, keySelector: this.keySelector }));
    return new SingleOutputStreamOperator(this.pipeline, addOperator(this.pipeline, inputs, call));
  }
}

/** A sink, which can be given a uid, a name and a parallelism. */
export class DataStreamSink {
  constructor(readonly transformation: Transformation) {}

  uid(uid: string): this {
    this.transformation.setUid(uid);
    return this;
  }

  name(name: string): this {
    this.transformation.setName(name);
    return this;
  }

  setParallelism(parallelism: number): this {
    this.transformation.setParallelism(parallelism);
    return this;
  }
}

function addOperator(pipeline: Pipeline, inputs: readonly Input[], call: OperatorCall): Transformation {
  const value = call.fn?.value;
  const fn =
    call.fn !== undefined && typeof value === "function"
      ? registerFunction(call.fn.kind, value as (...args: never[]) => unknown)
      : undefined;
  const t = pipeline.add({
    method: call.method,
    kind: call.kind,
    uidPrefix: call.uidPrefix,
    inputs,
    config: call.config ?? {},
    fn,
  });
  if (call.fn !== undefined && fn === undefined) {
    t.fail(`the ${call.fn.kind} function must be a function, got ${typeof value}`);
  }
  return t;
}
