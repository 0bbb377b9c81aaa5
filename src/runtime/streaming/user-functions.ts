// user.map / user.filter / user.flat-map {} — stateless transformations running the application's function
// registered under the vertex's uid (FunctionLookup). A function may return a promise; the operator then awaits
// it (one record at a time, in order). Exceptions thrown by user code fail the task.
import type { StreamRecord } from "./elements.ts";
import {
  BaseOperator,
  requireFunction,
  type StreamOperatorContext,
  type StreamOperatorDefinition,
} from "./operators.ts";

export type MapFunction = (value: StreamRecord) => unknown;
export type FilterFunction = (value: StreamRecord) => unknown;
/** Emits through `out`, or returns an array / iterable of records (not a string), or both. */
export type FlatMapFunction = (value: StreamRecord, out: (record: StreamRecord) => void) => unknown;

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}

/** The vertex's function; errors name the vertex. */
export function userFunction<F extends (...args: never[]) => unknown>(context: StreamOperatorContext): F {
  return requireFunction<F>(
    context.functions,
    context.uid,
    `vertex ${context.uid} (${context.vertex.operatorKind})`,
  );
}

class MapOperator extends BaseOperator {
  private fn!: MapFunction;

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.fn = userFunction<MapFunction>(context);
  }

  async processBatch(records: readonly StreamRecord[]): Promise<void> {
    const out = this.context.output;
    for (const r of records) {
      const result = this.fn(r);
      out.collect(isPromiseLike(result) ? await result : result);
    }
  }
}

class FilterOperator extends BaseOperator {
  private fn!: FilterFunction;

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.fn = userFunction<FilterFunction>(context);
  }

  async processBatch(records: readonly StreamRecord[]): Promise<void> {
    const out = this.context.output;
    for (const r of records) {
      const result = this.fn(r);
      if (isPromiseLike(result) ? await result : result) out.collect(r);
    }
  }
}

class FlatMapOperator extends BaseOperator {
  private fn!: FlatMapFunction;
  private readonly collect = (record: StreamRecord): void => this.context.output.collect(record);

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.fn = userFunction<FlatMapFunction>(context);
  }

  async processBatch(records: readonly StreamRecord[]): Promise<void> {
    for (const r of records) {
      let result = this.fn(r, this.collect);
      if (isPromiseLike(result)) result = await result;
      emitReturned(result, this.collect);
    }
  }
}

/** Emits what a flatMap / process function returned, if it returned a collection. */
export function emitReturned(result: unknown, collect: (record: StreamRecord) => void): void {
  if (result === undefined || result === null || typeof result === "string") return;
  if (Array.isArray(result)) {
    for (const r of result) collect(r);
  } else if (typeof result === "object" && Symbol.iterator in result) {
    for (const r of result as Iterable<unknown>) collect(r);
  }
}

export const mapOperator: StreamOperatorDefinition = {
  kind: "user.map",
  role: "operator",
  summary: "applies the application's function to every record",
  configure: () => () => new MapOperator(),
};

export const filterOperator: StreamOperatorDefinition = {
  kind: "user.filter",
  role: "operator",
  summary: "keeps the records for which the application's predicate is true",
  configure: () => () => new FilterOperator(),
};

export const flatMapOperator: StreamOperatorDefinition = {
  kind: "user.flat-map",
  role: "operator",
  summary: "emits zero or more records per record through the application's function",
  configure: () => () => new FlatMapOperator(),
};
