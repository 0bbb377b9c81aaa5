// One subtask of a chain, run as one async loop: the source's next batch → each transform → the sink, until
// the source is exhausted. This is the unit a TaskManager runs in a slot; the streaming runtime extends the
// loop with network inputs/outputs and checkpoint barriers.
//
// Cancellation is cooperative and prompt: every wait inside an operator takes the task's signal, and the loop
// checks it after every step, so an abort stops the task within one batch (well under 100 ms). The loop never
// races an operator call against the signal: runChain settles only once no operator code runs any more, which
// is what lets a TaskManager report a task as stopped and reuse its slot.
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { monotonicNow } from "../common/clock.ts";
import { InvalidArgumentError } from "../common/errors.ts";
import type { TaskDescriptor } from "../generated/records.ts";
import type { OperatorContext, OperatorLifecycle, Sink, Source, Transform } from "./operators/operator.ts";
import { builtInOperators, type OperatorRegistry } from "./operators/registry.ts";

export interface TaskContext {
  readonly task: TaskDescriptor;
  /** Aborted = cancel: stop promptly (< 100 ms). */
  readonly signal: AbortSignal;
  /** file:///… of the shared storage, if configured. */
  readonly storageDir: string | undefined;
  /** Cumulative records the chain's source has emitted so far (called at most ~10 times/s, and at the end). */
  onRecords(total: number): void;
}

/** Progress reports are at least this far apart. */
const REPORT_INTERVAL_MS = 100;
/** The loop lets timers and I/O (heartbeats!) run at least this often. */
const YIELD_INTERVAL_MS = 5;

interface Chain {
  readonly source: Source;
  readonly transforms: readonly Transform[];
  readonly sink: Sink | undefined;
}

/**
 * Runs one subtask of a chain. Resolves when the source is exhausted and the sink finished (FINISHED);
 * rejects with the operator's error (FAILED); when the signal aborts, stops promptly and rejects with
 * signal.reason (CANCELED). Every operator whose open() was called is closed before it settles.
 */
export async function runChain(
  context: TaskContext,
  operators: OperatorRegistry = builtInOperators,
): Promise<void> {
  const { signal } = context;
  signal.throwIfAborted();
  const chain = buildChain(context, operators);
  const opened: OperatorLifecycle[] = [];
  let failure: { error: unknown } | undefined;
  try {
    for (const op of [chain.source, ...chain.transforms, ...(chain.sink ? [chain.sink] : [])]) {
      opened.push(op);
      await op.open();
      signal.throwIfAborted();
    }
    await pump(chain, context);
  } catch (e: unknown) {
    failure = { error: e };
  }
  for (const op of opened.reverse()) {
    try {
      await op.close();
    } catch (e: unknown) {
      failure ??= { error: e };
    }
  }
  // A failure caused by the abort (an aborted wait, a closed file) is a cancel, not an operator error.
  if (signal.aborted) throw signal.reason;
  if (failure) throw failure.error;
}

async function pump(chain: Chain, context: TaskContext): Promise<void> {
  const { signal } = context;
  let emitted = 0;
  let reportedAt = monotonicNow();
  let yieldedAt = reportedAt;
  for (;;) {
    const batch = await chain.source.next();
    signal.throwIfAborted();
    if (batch === undefined) break;
    emitted += batch.length;
    let records = batch;
    for (const transform of chain.transforms) {
      if (records.length === 0) break;
      records = await transform.process(records);
      signal.throwIfAborted();
    }
    if (chain.sink && records.length > 0) {
      await chain.sink.write(records);
      signal.throwIfAborted();
    }
    const now = monotonicNow();
    if (now - reportedAt >= REPORT_INTERVAL_MS) {
      reportedAt = now;
      context.onRecords(emitted);
    }
    if (now - yieldedAt >= YIELD_INTERVAL_MS) {
      await yieldToEventLoop();
      yieldedAt = monotonicNow();
      signal.throwIfAborted();
    }
  }
  await chain.sink?.finish();
  signal.throwIfAborted();
  context.onRecords(emitted);
}

// The chain was validated at submission; a TaskManager checks its shape again because the descriptor came
// over the wire (and possibly from a leader of another version).
function buildChain(context: TaskContext, operators: OperatorRegistry): Chain {
  const { task } = context;
  const where = `task ${task.executionId}`;
  if (task.chain.length === 0) throw new InvalidArgumentError(`${where}: the chain has no vertices`);
  if (!Number.isInteger(task.parallelism) || task.parallelism < 1 || task.subtask >= task.parallelism) {
    throw new InvalidArgumentError(
      `${where}: subtask ${task.subtask} of parallelism ${task.parallelism} is invalid`,
    );
  }
  let source: Source | undefined;
  const transforms: Transform[] = [];
  let sink: Sink | undefined;
  task.chain.forEach((vertex, i) => {
    const vertexWhere = `${where}: vertex ${vertex.id}`;
    const op = operators.configure(vertex, vertexWhere);
    const operatorContext: OperatorContext = {
      jobId: task.jobId,
      vertex,
      subtask: task.subtask,
      parallelism: task.parallelism,
      attempt: task.attempt,
      epoch: task.epoch,
      signal: context.signal,
      storageDir: context.storageDir,
    };
    const misplaced = (what: string): never => {
      throw new InvalidArgumentError(`${vertexWhere}: ${op.kind} is a ${op.role}; ${what}`);
    };
    if (op.role === "source") {
      if (i !== 0) misplaced("a source can only head a chain");
      source = op.create(operatorContext);
    } else if (i === 0) {
      misplaced("a chain starts with a source");
    } else if (op.role === "transform") {
      transforms.push(op.create(operatorContext));
    } else {
      if (i !== task.chain.length - 1) misplaced("a sink can only end a chain");
      sink = op.create(operatorContext);
    }
  });
  return { source: source!, transforms, sink };
}
