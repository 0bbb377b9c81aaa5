// The history of a chaos run, in Jepsen's model: every operation is an `invoke` followed by exactly one
// completion — `ok` (it happened), `fail` (it certainly did not) or `info` (unknown: it may have happened).
// Checkers read only this and the processes' events; they never ask the system what it thinks of itself.
import { jsonLine } from "../src/cli/output.ts";
import { monotonicNow } from "../src/common/clock.ts";
import { InvalidArgumentError, LifecycleError } from "../src/common/errors.ts";

export type OpType = "invoke" | "ok" | "fail" | "info";
/** A client worker's index, or the nemesis. */
export type ProcessId = number | "nemesis";

export interface Op {
  /** Position in the history, 0.. */
  readonly index: number;
  readonly type: OpType;
  readonly process: ProcessId;
  /** "submit", "cancel", "list", "run", "read-output", or a fault name. */
  readonly f: string;
  /** JSON-able (bigints as decimal strings). invoke: the arguments; completion: the result. */
  readonly value?: unknown;
  /** fail / info: why. */
  readonly error?: string;
  /** ms since the history started, on the monotonic clock (fractional). */
  readonly time: number;
  /** Wall-clock ms, on the same scale as the processes' event `at`. */
  readonly at: number;
}

export type OpListener = (op: Op) => void;

/** An open operation; completing it twice throws. */
export interface Invocation {
  /** The `invoke` op. */
  readonly op: Op;
  readonly completed: boolean;
  /** It happened; `value` is its result. */
  ok(value?: unknown): Op;
  /** It certainly did not happen. `error`: a string, or an Error (its name and message are kept). */
  fail(error: unknown, value?: unknown): Op;
  /** Its outcome is unknown (timeout, connection lost after sending): it may or may not have happened. */
  info(error: unknown, value?: unknown): Op;
}

export interface Clocks {
  /** Monotonic ms, arbitrary origin. */
  readonly monotonic: () => number;
  /** Wall-clock ms. */
  readonly wall: () => number;
}

// The processes stamp their events with timeOrigin + performance.now() (src/cli/output.ts emitEvent); the
// history uses the same scale so that ops and events line up without a second clock reading.
const defaultClocks: Clocks = {
  monotonic: monotonicNow,
  wall: () => performance.timeOrigin + monotonicNow(),
};

const OP_TYPES: ReadonlySet<string> = new Set<OpType>(["invoke", "ok", "fail", "info"]);

/** Records a history; optionally streams each op to listeners as it is recorded (e.g. to a file). */
export class History {
  /** Wall-clock ms at which the history started. */
  readonly startedAt: number;
  readonly #clocks: Clocks;
  readonly #start: number;
  readonly #ops: Op[] = [];
  readonly #open = new Map<ProcessId, OpenInvocation>();
  readonly #listeners = new Set<OpListener>();

  constructor(clocks: Clocks = defaultClocks) {
    this.#clocks = clocks;
    this.#start = clocks.monotonic();
    this.startedAt = clocks.wall();
  }

  /** Starts an operation of `process`; throws if that process still has one open (one at a time, as in Jepsen). */
  invoke(process: ProcessId, f: string, value?: unknown): Invocation {
    const open = this.#open.get(process);
    if (open !== undefined) {
      throw new LifecycleError(
        `history: process ${process} invoked "${f}" while its "${open.op.f}" (op ${open.op.index}) is still open; ` +
          "complete it first with ok, fail or info (a process runs one operation at a time)",
      );
    }
    let invocation: OpenInvocation | undefined;
    this.#record("invoke", process, f, value, undefined, (op) => {
      invocation = new OpenInvocation(op, (type, result, error, settled) =>
        this.#record(type, process, f, result, error, () => {
          settled();
          this.#open.delete(process);
        }),
      );
      this.#open.set(process, invocation);
    });
    return invocation!;
  }

  /** Every op so far, in order. */
  ops(): readonly Op[] {
    return this.#ops;
  }

  /** Invocations not completed yet (the runner completes them as `info` at the end: their outcome is unknown). */
  open(): readonly Invocation[] {
    return [...this.#open.values()];
  }

  /**
   * Calls `listener` with every op recorded from now on, synchronously, after it is recorded (an exception
   * from a listener reaches the caller of invoke / ok / fail / info; the op stays recorded). Returns the
   * unsubscribe function.
   */
  onOp(listener: OpListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One JSON object per op, each line ending in "\n". */
  toJsonLines(): string {
    return this.#ops.map((op) => JSON.stringify(op) + "\n").join("");
  }

  /**
   * Parses `toJsonLines()` output (blank lines are skipped) and checks it is a history: indexes in order,
   * every completion matching its process's open invocation. Errors name the line.
   */
  static parse(text: string): Op[] {
    const ops: Op[] = [];
    const open = new Map<ProcessId, Op>();
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "") continue;
      const where = `history line ${i + 1}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (e: unknown) {
        throw new InvalidArgumentError(`${where}: not JSON (${e instanceof Error ? e.message : String(e)})`);
      }
      const op = asOp(parsed, where);
      if (op.index !== ops.length) {
        throw new InvalidArgumentError(
          `${where}: index ${op.index}, expected ${ops.length} (ops out of order?)`,
        );
      }
      const pending = open.get(op.process);
      if (op.type === "invoke") {
        if (pending !== undefined) {
          throw new InvalidArgumentError(
            `${where}: process ${op.process} invokes "${op.f}" while op ${pending.index} is still open`,
          );
        }
        open.set(op.process, op);
      } else {
        if (pending === undefined || pending.f !== op.f) {
          throw new InvalidArgumentError(
            `${where}: ${op.type} "${op.f}" of process ${op.process} completes no open invocation` +
              (pending === undefined ? "" : ` (op ${pending.index} "${pending.f}" is open)`),
          );
        }
        open.delete(op.process);
      }
      ops.push(op);
    }
    return ops;
  }

  // `recorded` updates the bookkeeping once the op is in the history and before any listener runs, so that
  // neither a value that cannot be serialized nor a throwing listener leaves an invocation half-done.
  #record(
    type: OpType,
    process: ProcessId,
    f: string,
    value: unknown,
    error: unknown,
    recorded: (op: Op) => void,
  ): Op {
    const time = this.#clocks.monotonic() - this.#start;
    const op: Op = {
      index: this.#ops.length,
      type,
      process,
      f,
      ...(value !== undefined && { value: toJsonable(value) }),
      ...(type !== "invoke" && type !== "ok" && { error: errorText(error) }),
      time,
      at: this.startedAt + time,
    };
    this.#ops.push(op);
    recorded(op);
    for (const listener of this.#listeners) listener(op);
    return op;
  }
}

type Completion = Exclude<OpType, "invoke">;

class OpenInvocation implements Invocation {
  completed = false;

  constructor(
    readonly op: Op,
    private readonly record: (type: Completion, value: unknown, error: unknown, settled: () => void) => Op,
  ) {}

  ok(value?: unknown): Op {
    return this.#complete("ok", value, undefined);
  }
  fail(error: unknown, value?: unknown): Op {
    return this.#complete("fail", value, error);
  }
  info(error: unknown, value?: unknown): Op {
    return this.#complete("info", value, error);
  }

  #complete(type: Completion, value: unknown, error: unknown): Op {
    if (this.completed) {
      throw new LifecycleError(
        `history: op ${this.op.index} ("${this.op.f}" of process ${this.op.process}) is already complete; ` +
          `it cannot also be ${type}`,
      );
    }
    return this.record(type, value, error, () => {
      this.completed = true;
    });
  }
}

export interface OpPair {
  readonly invoke: Op;
  /** Absent while the operation is still open (treat as `info`: it may or may not have happened). */
  readonly completion?: Op;
}

/** Each invocation with its completion, in invocation order; throws on a completion that matches nothing. */
export function pairs(ops: readonly Op[]): OpPair[] {
  const result: { invoke: Op; completion?: Op }[] = [];
  const open = new Map<ProcessId, { invoke: Op; completion?: Op }>();
  for (const op of ops) {
    if (op.type === "invoke") {
      const pair = { invoke: op };
      result.push(pair);
      open.set(op.process, pair);
      continue;
    }
    const pair = open.get(op.process);
    if (pair === undefined) {
      throw new InvalidArgumentError(
        `pairs: op ${op.index} (${op.type} "${op.f}" of process ${op.process}) completes no open invocation`,
      );
    }
    pair.completion = op;
    open.delete(op.process);
  }
  return result;
}

/** `value` as plain JSON data: bigints become decimal strings, undefined fields and functions are dropped. */
export function toJsonable(value: unknown): unknown {
  // JSON.stringify gives undefined for undefined and functions, whatever jsonLine's signature says.
  const text = jsonLine(value) as string | undefined;
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

/** The text an error becomes in the history. */
export function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function asOp(parsed: unknown, where: string): Op {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`${where}: expected a JSON object`);
  }
  const o = parsed as Record<string, unknown>;
  const bad = (field: string, expected: string): never => {
    throw new InvalidArgumentError(
      `${where}: field "${field}" must be ${expected}, got ${JSON.stringify(o[field])}`,
    );
  };
  if (typeof o.index !== "number" || !Number.isInteger(o.index) || o.index < 0)
    bad("index", "an integer ≥ 0");
  if (typeof o.type !== "string" || !OP_TYPES.has(o.type)) bad("type", "invoke, ok, fail or info");
  if (!(o.process === "nemesis" || (typeof o.process === "number" && Number.isInteger(o.process)))) {
    bad("process", 'an integer or "nemesis"');
  }
  if (typeof o.f !== "string" || o.f === "") bad("f", "a non-empty string");
  if (typeof o.time !== "number" || !Number.isFinite(o.time)) bad("time", "a number");
  if (typeof o.at !== "number" || !Number.isFinite(o.at)) bad("at", "a number");
  if (o.error !== undefined && typeof o.error !== "string") bad("error", "a string when present");
  if ((o.type === "fail" || o.type === "info") && o.error === undefined) bad("error", `present on ${o.type}`);
  return {
    index: o.index as number,
    type: o.type as OpType,
    process: o.process as ProcessId,
    f: o.f as string,
    ...(o.value !== undefined && { value: o.value }),
    ...(o.error !== undefined && { error: o.error as string }),
    time: o.time as number,
    at: o.at as number,
  };
}
