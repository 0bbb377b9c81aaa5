// The jobs of the streaming benchmarks: their user functions (the same function objects run inside the
// pipelines and in the plain baselines), the TaskDescriptors a scheduler would deploy for them, and the
// deliberately slow sink of the memory benchmark. Imported by this process and by the worker processes.
import { monotonicNow, sleep } from "../src/common/clock.ts";
import type { JobVertex, TaskDescriptor } from "../src/generated/records.ts";
import type { KeyedProcessContext } from "../src/runtime/streaming/keyed-functions.ts";
import {
  BaseOperator,
  type FunctionLookup,
  keySelectorUid,
  type StreamOperatorDefinition,
} from "../src/runtime/streaming/operators.ts";
import { BUILT_IN_STREAM_OPERATORS, StreamOperatorRegistry } from "../src/runtime/streaming/registry.ts";
import { linearJobTasks } from "../src/runtime/streaming/testing-job.ts";
import { jobGraph, vertex } from "../src/runtime/testing.ts";

/** Distinct keys of the keyed jobs (the state of the keyed counter holds one value per key). */
export const KEYS = 4096;

export interface BenchRecord {
  readonly id: number;
  readonly key: number;
  readonly value: number;
}

/** The chain's map: one small object per record, as a parsing or enriching map makes. */
export const toRecord = (v: number): BenchRecord => ({ id: v, key: v % KEYS, value: v * 3 });
/** The chain's filter: drops one record in seven. */
export const keepRecord = (r: BenchRecord): boolean => r.value % 7 !== 0;
export const keyOf = (v: number): number => v % KEYS;

/** user.keyed-process: a per-key counter in value state (the keyed-count example's state, without output). */
export function countPerKey(_v: number, ctx: KeyedProcessContext): void {
  const n = ctx.state<number>("n");
  n.update((n.value() ?? 0) + 1);
}

const FUNCTIONS = new Map<string, unknown>([
  ["map", toRecord],
  ["filter", keepRecord],
  [keySelectorUid("sink"), keyOf],
  [keySelectorUid("count"), keyOf],
  ["count", countPerKey],
]);

/** The user functions of every benchmark job, by uid. */
export const benchFunctions: FunctionLookup = (uid) => FUNCTIONS.get(uid);

// ---- the slow sink

/** Records the slow sinks of this process processed, for exact in-flight counts. */
let slowSinkProcessed = 0;
export const slowSinkTotal = (): number => slowSinkProcessed;

/** bench.slow-sink { recordsPerSecond }: takes records no faster than the rate (per subtask), by sleeping. */
const slowSink: StreamOperatorDefinition = {
  kind: "bench.slow-sink",
  role: "operator",
  summary: "drops records no faster than recordsPerSecond per subtask (a deliberately slow sink)",
  configure(config) {
    const rate = config.number("recordsPerSecond", { above: 0 });
    return () => new SlowSink(rate);
  },
};

class SlowSink extends BaseOperator {
  private startedAt: number | undefined;
  private processed = 0;

  constructor(private readonly rate: number) {
    super();
  }

  async processBatch(records: readonly unknown[]): Promise<void> {
    this.startedAt ??= monotonicNow();
    this.processed += records.length;
    slowSinkProcessed += records.length;
    const wait = this.startedAt + (this.processed * 1000) / this.rate - monotonicNow();
    if (wait > 0) await sleep(wait, this.context.signal);
  }
}

/** The worker TaskManagers' operators: the built-in ones and the slow sink. */
export const benchOperators = new StreamOperatorRegistry([...BUILT_IN_STREAM_OPERATORS, slowSink]);

// ---- jobs

/** source.sequence (unbounded unless `count`) → map → filter → sink.discard, chained into one task. */
export function chainTask(count: number, attempt: number): TaskDescriptor {
  const chain = [
    vertex("numbers", "source.sequence", { count }),
    vertex("map", "user.map"),
    vertex("filter", "user.filter"),
    vertex("sink", "sink.discard"),
  ];
  const [task] = linearJobTasks([{ chain, parallelism: 1 }], { jobId: "chain", attempt });
  return task!;
}

export type ShuffleConsumer =
  /** sink.discard behind the hash exchange: the exchange is the work. */
  | { readonly kind: "discard" }
  /** the keyed counter (value state per key) → sink.discard: state for checkpoints to snapshot. */
  | { readonly kind: "count" }
  | { readonly kind: "slow"; readonly recordsPerSecond: number };

export interface ShuffleJob {
  /** On the first TaskManager: source.sequence (unbounded), hash-partitioned by key. */
  readonly producers: TaskDescriptor[];
  /** On the second TaskManager. */
  readonly consumers: TaskDescriptor[];
}

/**
 * numbers (source.sequence, unbounded) ─keyBy(v % KEYS)→ consumer, `parallelism` subtasks on each side, the
 * producers on the TaskManager at `producerAddress`. `checkpointIntervalMs` > 0 turns checkpointing on in the
 * job config the tasks carry (as the JobManager's deployments do).
 */
export function shuffleJob(o: {
  readonly jobId: string;
  readonly attempt: number;
  readonly parallelism: number;
  readonly consumer: ShuffleConsumer;
  readonly producerAddress: string;
  readonly checkpointIntervalMs: number;
}): ShuffleJob {
  let consumerChain: JobVertex[];
  switch (o.consumer.kind) {
    case "discard":
      consumerChain = [vertex("sink", "sink.discard")];
      break;
    case "count":
      consumerChain = [vertex("count", "user.keyed-process"), vertex("sink", "sink.discard")];
      break;
    case "slow":
      consumerChain = [vertex("sink", "bench.slow-sink", { recordsPerSecond: o.consumer.recordsPerSecond })];
      break;
  }
  const tasks = linearJobTasks(
    [
      { chain: [vertex("numbers", "source.sequence", { count: 0 })], parallelism: o.parallelism },
      { chain: consumerChain, parallelism: o.parallelism, partitioning: "PARTITIONING_HASH" },
    ],
    { jobId: o.jobId, attempt: o.attempt },
  );
  const config =
    o.checkpointIntervalMs > 0
      ? JSON.stringify({ checkpointing: { intervalMs: o.checkpointIntervalMs } })
      : "";
  const graph = jobGraph([], [], config, o.jobId);
  for (const t of tasks) {
    t.jobGraph = graph;
    for (const gate of t.inputs) for (const p of gate.producers) p.taskmanagerAddress = o.producerAddress;
  }
  return {
    producers: tasks.filter((t) => t.inputs.length === 0),
    consumers: tasks.filter((t) => t.inputs.length > 0),
  };
}
