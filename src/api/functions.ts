// The functions an application hands to its operators, seen from both sides: the generic signatures a user
// writes against (ValueState, KeyedProcessFunction, …) and the type-erased table a TaskManager's user.*
// operators call. Functions never travel: both the client and every TaskManager run the application's `main`
// and collect them by id (the vertex id, or keySelectorId(vertex id) for a keyed operator's key selector), and
// the JobGraph names them only by that id. It imports only the runtime's leaf module operators.ts (for the key
// selector's uid), so operators can import it without a cycle.
import { InternalError } from "../common/errors.ts";
import { keySelectorUid } from "../runtime/streaming/operators.ts";

/**
 * What keyBy may return: hashed into key groups from a stable encoding (src/state/key-groups.ts), so only
 * primitives and arrays / plain objects of them; Maps, Dates and class instances are refused at run time.
 */
export type Key =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | readonly Key[]
  | { readonly [field: string]: Key };

/** One named value per key, kept by a keyed operator and included in its checkpoints. */
export interface ValueState<S> {
  /** The current key's value, or undefined when none was stored or it was cleared. */
  value(): S | undefined;
  /** Replaces the current key's value; it must be structured-clonable (it is snapshotted). */
  update(value: S): void;
  /** Forgets the current key's value. */
  clear(): void;
}

export interface KeyedProcessContext<K extends Key> {
  /** The key of the record being processed. */
  readonly key: K;
  /** The value state `name` of the current key; the same name is the same state for every record of a key. */
  state<S>(name: string): ValueState<S>;
}

export interface Collector<O> {
  /** Emits a record downstream; may be called any number of times per input record. */
  collect(record: O): void;
}

/** Called once per record with the record's key in scope (Flink's KeyedProcessFunction without timers). */
export type ProcessElement<K extends Key, I, O> = (
  value: I,
  ctx: KeyedProcessContext<K>,
  out: Collector<O>,
) => void;

export interface KeyedProcessFunction<K extends Key, I, O> {
  processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
}

/** The signature each function kind has at run time, with the application's types erased. */
export interface FunctionKinds {
  /** user.map: one record out per record in. */
  map: (value: unknown) => unknown;
  /** user.filter: keeps the record when true. */
  filter: (value: unknown) => boolean;
  /** user.flat-map: every element of the iterable is a record out. */
  "flat-map": (value: unknown) => Iterable<unknown>;
  /** user.reduce: the key's accumulated value and the next record → the new accumulated value, emitted. */
  reduce: (accumulator: unknown, value: unknown) => unknown;
  /** The key of a record, for the hash partitioner upstream and the keyed operator itself. */
  "key-selector": (value: unknown) => Key;
  /** user.keyed-process: the runtime's context is also the collector (ctx.collect). */
  "keyed-process": (value: unknown, ctx: KeyedProcessContext<Key> & Collector<unknown>) => void;
}

export type FunctionKind = keyof FunctionKinds;

export type RegisteredFunction = {
  [F in FunctionKind]: { readonly kind: F; readonly fn: FunctionKinds[F] };
}[FunctionKind];

/** Every function of one application run, by id. */
export type FunctionTable = ReadonlyMap<string, RegisteredFunction>;

/**
 * The id of a keyed operator's key selector: the runtime's keySelectorUid, so the table is the runtime's
 * FunctionLookup as it is. ':' cannot occur in a vertex id, so it never collides with one.
 */
export function keySelectorId(vertexId: string): string {
  return keySelectorUid(vertexId);
}

/** The table as the runtime's FunctionLookup: the function registered as `id`, undefined when none is. */
export function functionLookup(functions: FunctionTable): (id: string) => unknown {
  return (id) => functions.get(id)?.fn;
}

/**
 * Erases an application function's types. The API's generics guarantee the function fits `kind` for the
 * records that reach it; at run time records are unknown values.
 */
export function registerFunction(kind: FunctionKind, fn: (...args: never[]) => unknown): RegisteredFunction {
  return { kind, fn } as unknown as RegisteredFunction;
}

/**
 * The function `id` of kind `kind`. A missing or mistyped function is an InternalError: resolution checked the
 * table against the JobGraph before any operator was built.
 */
export function lookupFunction<F extends FunctionKind>(
  functions: FunctionTable,
  id: string,
  kind: F,
): FunctionKinds[F] {
  const found = functions.get(id);
  if (found === undefined) {
    throw new InternalError(`function ${JSON.stringify(id)} was not resolved from the application`);
  }
  if (found.kind !== kind) {
    throw new InternalError(
      `function ${JSON.stringify(id)} is a ${found.kind} function, not a ${kind} function`,
    );
  }
  return found.fn as FunctionKinds[F];
}
