// Keyed operators: user.reduce, user.sum { field?: string }, user.keyed-process; each also takes
// { keySelector?: string }, which must be keySelectorUid(vertex id) when given. Each computes a record's key with
// that key selector — the same function the upstream hash partitioner used, so the key is in a key group this
// subtask owns — and keeps per-key ValueState.
//   user.reduce: value state "reduce" = fn(previous, record); emits the new value (a rolling reduce).
//   user.sum: value state "sum" = running sum of the record (a number or bigint) or of its `field`; emits the
//     sum, or a copy of the record with `field` replaced by the sum.
//   user.keyed-process: fn(record, ctx, out) with ctx.key, ctx.state(name) (ValueState of the current key),
//     out.collect(record) (also ctx.collect); a returned array / iterable is emitted too.
import { InvalidArgumentError } from "../../common/errors.ts";
import type { ValueState } from "../../state/keyed-state.ts";
import type { ConfigReader } from "../config-reader.ts";
import type { StreamRecord } from "./elements.ts";
import {
  BaseOperator,
  keySelectorUid,
  requireFunction,
  type StreamOperatorContext,
  type StreamOperatorDefinition,
} from "./operators.ts";
import { emitReturned, isPromiseLike, userFunction } from "./user-functions.ts";

export type KeySelector = (value: StreamRecord) => unknown;
export type ReduceFunction = (accumulator: StreamRecord, value: StreamRecord) => unknown;

export interface KeyedProcessContext {
  /** The key of the record being processed. */
  readonly key: unknown;
  readonly subtask: number;
  /** The ValueState `name` of the current key. */
  state<T>(name: string): ValueState<T>;
  collect(record: StreamRecord): void;
}
export type KeyedProcessFunction = (
  value: StreamRecord,
  ctx: KeyedProcessContext,
  out: { collect(record: StreamRecord): void },
) => unknown;

/** Reads the optional keySelector config key every keyed operator accepts. */
function keySelectorConfig(config: ConfigReader): string | undefined {
  return config.optionalString("keySelector");
}

abstract class KeyedOperator extends BaseOperator {
  protected selector!: KeySelector;

  constructor(private readonly keySelector: string | undefined) {
    super();
  }

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    const where = `vertex ${context.uid} (${context.vertex.operatorKind})`;
    const uid = keySelectorUid(context.uid);
    if (this.keySelector !== undefined && this.keySelector !== uid) {
      throw new InvalidArgumentError(
        `${where}: config.keySelector is ${JSON.stringify(this.keySelector)}, but the hash partitioner of its input uses ${JSON.stringify(uid)}; name the key selector ${JSON.stringify(uid)}`,
      );
    }
    this.selector = requireFunction<KeySelector>(context.functions, uid, `${where} key selector`);
  }

  async processBatch(records: readonly StreamRecord[]): Promise<void> {
    const backend = this.context.keyedState;
    for (const r of records) {
      backend.setCurrentKey(this.selector(r));
      const pending = this.processKeyed(r);
      if (pending !== undefined) await pending;
    }
  }

  /** Processes one record with its key current; returns a promise only when it has to wait. */
  protected abstract processKeyed(record: StreamRecord): Promise<void> | undefined;
}

class ReduceOperator extends KeyedOperator {
  private fn!: ReduceFunction;
  private state!: ValueState<StreamRecord>;

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.fn = userFunction<ReduceFunction>(context);
    this.state = context.keyedState.state("reduce");
  }

  protected processKeyed(record: StreamRecord): Promise<void> | undefined {
    const previous = this.state.value();
    if (previous === undefined) return this.store(record);
    const result = this.fn(previous, record);
    return isPromiseLike(result) ? Promise.resolve(result).then((v) => this.store(v)) : this.store(result);
  }

  private store(value: StreamRecord): undefined {
    this.state.update(value);
    this.context.output.collect(value);
    return undefined;
  }
}

class SumOperator extends KeyedOperator {
  private state!: ValueState<number | bigint>;

  constructor(
    keySelector: string | undefined,
    private readonly field: string | undefined,
  ) {
    super(keySelector);
  }

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.state = context.keyedState.state("sum");
  }

  protected processKeyed(record: StreamRecord): undefined {
    const field = this.field;
    let value: unknown = record;
    if (field !== undefined) {
      if (typeof record !== "object" || record === null) {
        throw new InvalidArgumentError(
          `vertex ${this.context.uid} (user.sum): record ${String(record)} has no field ${field}; sum over field needs object or array records`,
        );
      }
      value = (record as Record<string, unknown>)[field];
    }
    const previous = this.state.value();
    let sum: number | bigint;
    if (typeof value === "number" && (previous === undefined || typeof previous === "number")) {
      sum = (previous ?? 0) + value;
    } else if (typeof value === "bigint" && (previous === undefined || typeof previous === "bigint")) {
      sum = (previous ?? 0n) + value;
    } else {
      throw new InvalidArgumentError(
        `vertex ${this.context.uid} (user.sum): cannot add ${typeof value} ${String(value)} to a ${typeof previous} sum; ` +
          `sum needs numbers or bigints${field === undefined ? "" : ` in field ${field}`}`,
      );
    }
    this.state.update(sum);
    if (field === undefined) {
      this.context.output.collect(sum);
    } else {
      const copy: Record<string, unknown> | unknown[] = Array.isArray(record)
        ? [...record]
        : { ...(record as Record<string, unknown>) };
      (copy as Record<string, unknown>)[field] = sum;
      this.context.output.collect(copy);
    }
    return undefined;
  }
}

class KeyedProcessOperator extends KeyedOperator {
  private fn!: KeyedProcessFunction;
  private ctx!: KeyedProcessContext;
  private readonly collect = (record: StreamRecord): void => this.context.output.collect(record);

  override async open(context: StreamOperatorContext): Promise<void> {
    await super.open(context);
    this.fn = userFunction<KeyedProcessFunction>(context);
    const backend = context.keyedState;
    this.ctx = {
      get key() {
        return backend.currentKey;
      },
      subtask: context.subtask,
      state: <T>(name: string) => backend.state<T>(name),
      collect: this.collect,
    };
  }

  protected processKeyed(record: StreamRecord): Promise<void> | undefined {
    const result = this.fn(record, this.ctx, this.ctx);
    if (isPromiseLike(result)) return Promise.resolve(result).then((r) => emitReturned(r, this.collect));
    emitReturned(result, this.collect);
    return undefined;
  }
}

export const reduceOperator: StreamOperatorDefinition = {
  kind: "user.reduce",
  role: "operator",
  summary: "keyed rolling reduce with the application's function; emits each new value",
  configure(config) {
    const keySelector = keySelectorConfig(config);
    return () => new ReduceOperator(keySelector);
  },
};

export const sumOperator: StreamOperatorDefinition = {
  kind: "user.sum",
  role: "operator",
  summary: "keyed running sum of the records (or of a field); emits each new sum",
  configure(config) {
    const keySelector = keySelectorConfig(config);
    const field = config.optionalString("field");
    return () => new SumOperator(keySelector, field);
  },
};

export const keyedProcessOperator: StreamOperatorDefinition = {
  kind: "user.keyed-process",
  role: "operator",
  summary: "runs the application's keyed process function with per-key value state",
  configure(config) {
    const keySelector = keySelectorConfig(config);
    return () => new KeyedProcessOperator(keySelector);
  },
};
