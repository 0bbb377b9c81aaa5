// stream-memory: a fast unbounded source (2 subtasks on TaskManager A) ─keyBy→ a deliberately slow sink
// (bench.slow-sink, 2 subtasks on TaskManager B) over the real exchange, for `seconds`. Every second: both
// processes' RSS and heapUsed (process.memoryUsage() in the worker), the records the sources emitted and the
// records the sinks took. Only back-pressure (the sink's credits, the producer's bounded subpartitions, a
// blocked send in the source task) can keep the source at the sink's pace; the records between them are
// bounded by the exchange settings, and memory must stay flat. The idle processes, sampled before the job is
// deployed, are the reference.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeBuffer } from "../src/exchange/codec.ts";
import { DEFAULT_EXCHANGE_SETTINGS } from "../src/taskmanager/taskmanager.ts";
import { totalOf, TwoTaskManagers } from "./streaming-cluster.ts";
import { KEYS, shuffleJob } from "./streaming-jobs.ts";
import type { MemorySample } from "./streaming-protocol.ts";

/** source.sequence's batch: a source subtask holds at most one while its send waits. */
const SOURCE_BATCH = 256;
const SAMPLE_MS = 1_000;
const IDLE_SAMPLES = 3;

/**
 * One subtask on each side. With two (two subpartitions per source), src/exchange's PartitionStream.pump
 * re-enters itself under back-pressure (recycle() → a due flush seals → the listener pumps again before the
 * outer pump counted its credit) and sends one buffer more than credited, out of order; the consumer then
 * fails with "protocol violation". Raise this once that is fixed.
 */
export const MEMORY_PARALLELISM = 2;
/** The slow sink's rate per subtask: about 1 % of what the source reaches unthrottled (see stream-shuffle). */
export const SLOW_SINK_RECORDS_PER_SECOND = 10_000;

export interface MemoryOptions {
  readonly seconds: number;
  readonly parallelism: number;
  /** The slow sink's rate per subtask. */
  readonly sinkRecordsPerSecond: number;
  readonly progress: (line: string) => void;
  readonly stopRequested: () => boolean;
}

export interface MemoryPoint {
  /** Seconds since the job was deployed (negative: idle, before it). */
  readonly t: number;
  readonly producer: MemorySample;
  readonly consumer: MemorySample;
  /** Records the sources emitted and the sinks took, cumulative. */
  readonly emitted: number;
  readonly taken: number;
}

/** What the exchange settings allow between a source and a sink. */
export interface MemoryBound {
  readonly channels: number;
  /** Buffers per channel: the producer's subpartition queue, its open buffer, the consumer's credit. */
  readonly buffersPerChannel: number;
  readonly records: number;
  /** Bytes of one full buffer of this job's records: as a JS array (8 B per element) and encoded. */
  readonly bufferBytes: number;
  readonly bytes: number;
}

export interface MemoryResult {
  readonly points: MemoryPoint[];
  readonly bound: MemoryBound;
  readonly failures: string[];
  readonly error?: string;
}

export function memoryBound(parallelism: number): MemoryBound {
  const s = DEFAULT_EXCHANGE_SETTINGS;
  const channels = parallelism * parallelism;
  const buffersPerChannel = s.subpartitionBuffers + 1 + s.creditBuffers;
  // The sequence's values at this run's magnitude (around 10^8): what the buffers really hold.
  const sample = Array.from({ length: s.bufferRecords }, (_, i) => 100_000_000 + i * KEYS);
  const bufferBytes = s.bufferRecords * 8 + encodeBuffer([{ kind: "records", records: sample }]).byteLength;
  return {
    channels,
    buffersPerChannel,
    records: channels * buffersPerChannel * s.bufferRecords + parallelism * SOURCE_BATCH,
    bufferBytes,
    bytes: channels * buffersPerChannel * bufferBytes,
  };
}

export async function measureMemory(o: MemoryOptions): Promise<MemoryResult> {
  const points: MemoryPoint[] = [];
  const bound = memoryBound(o.parallelism);
  let tms: TwoTaskManagers | undefined;
  try {
    tms = await TwoTaskManagers.start();
    const cluster = tms;
    const sample = async (t: number): Promise<MemoryPoint> => {
      const [producer, consumer, emitted, taken] = await Promise.all([
        cluster.producer.call("memory", {}),
        cluster.consumer.call("memory", {}),
        cluster.producer.call("counters", {}),
        cluster.consumer.call("counters", {}),
      ]);
      return {
        t,
        producer,
        consumer,
        emitted: totalOf(emitted, "task:"),
        taken: taken["slow-sink"]?.total ?? 0,
      };
    };
    for (let i = IDLE_SAMPLES; i > 0; i--) {
      points.push(await sample(-i));
      await sleep(SAMPLE_MS);
    }
    const job = shuffleJob({
      jobId: "memory",
      attempt: 1,
      parallelism: o.parallelism,
      consumer: { kind: "slow", recordsPerSecond: o.sinkRecordsPerSecond },
      producerAddress: cluster.producer.address,
      checkpointIntervalMs: 0,
    });
    await cluster.deploy(job.producers, job.consumers);
    const started = performance.now();
    for (let s = 1; s <= o.seconds && !o.stopRequested(); s++) {
      await sleep(Math.max(0, started + s * SAMPLE_MS - performance.now()));
      const p = await sample(s);
      points.push(p);
      if (s % 10 === 0 || s === o.seconds) {
        o.progress(
          `stream-memory: ${s}/${o.seconds} s: RSS ${mib(p.producer.rss)} / ${mib(p.consumer.rss)} MiB, ` +
            `heapUsed ${mib(p.producer.heapUsed)} / ${mib(p.consumer.heapUsed)} MiB, ` +
            `${p.emitted - p.taken} records in flight`,
        );
      }
      if (cluster.failures.length > 0) throw new Error(`tasks failed: ${cluster.failures.join("; ")}`);
    }
    await cluster.cancel();
    return { points, bound, failures: cluster.failures };
  } catch (e: unknown) {
    return {
      points,
      bound,
      failures: tms?.failures ?? [],
      error: e instanceof Error ? e.message : String(e),
    };
  } finally {
    await tms?.stop();
  }
}

export const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** Least-squares slope of `y` over `t`, per minute. */
export function slopePerMinute(t: readonly number[], y: readonly number[]): number {
  const n = t.length;
  if (n < 2) return 0;
  const mt = t.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (t[i]! - mt) * (y[i]! - my);
    den += (t[i]! - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

export interface Trend {
  readonly idle: number;
  readonly min: number;
  readonly max: number;
  readonly end: number;
  /** Per minute, over the second half (the steady state: start-up peaks that recede would dominate otherwise). */
  readonly slope: number;
  readonly firstHalfMax: number;
  readonly secondHalfMax: number;
}

/** The measured points after `warmup` seconds, split in halves; idle = the mean before the deployment. */
export function trend(
  points: readonly MemoryPoint[],
  warmup: number,
  pick: (p: MemoryPoint) => number,
): Trend {
  const idle = points.filter((p) => p.t < 0).map(pick);
  const run = points.filter((p) => p.t > 0);
  const after = run.filter((p) => p.t > warmup);
  const half = after.length > 0 ? (after[0]!.t + after[after.length - 1]!.t) / 2 : 0;
  const values = run.map(pick);
  const maxOf = (ps: readonly MemoryPoint[]): number => Math.max(...ps.map(pick));
  const second = after.filter((p) => p.t > half);
  return {
    idle: idle.reduce((a, b) => a + b, 0) / Math.max(1, idle.length),
    min: Math.min(...values),
    max: Math.max(...values),
    end: values[values.length - 1] ?? Number.NaN,
    slope: slopePerMinute(
      second.map((p) => p.t),
      second.map(pick),
    ),
    firstHalfMax: maxOf(after.filter((p) => p.t <= half)),
    secondHalfMax: maxOf(second),
  };
}

/** Seconds left out of the halves: heaps and buffers fill, the JIT settles. */
export function memoryWarmup(seconds: number): number {
  return Math.min(10, Math.floor(seconds / 3));
}

/** A series is flat when its peak in the second half is no more than this above the first half's. */
const FLAT_MARGIN_BYTES = 2 * 2 ** 20;

export interface MemoryVerdict {
  readonly inFlightMax: number;
  readonly bounded: boolean;
  readonly flat: boolean;
}

export function memoryVerdict(r: MemoryResult): MemoryVerdict {
  const run = r.points.filter((p) => p.t > 0);
  const inFlightMax = Math.max(0, ...run.map((p) => p.emitted - p.taken));
  const warmup = memoryWarmup(run.length);
  const picks = [
    (p: MemoryPoint) => p.producer.rss,
    (p: MemoryPoint) => p.producer.heapUsed,
    (p: MemoryPoint) => p.consumer.rss,
    (p: MemoryPoint) => p.consumer.heapUsed,
  ];
  const flat = picks.every((pick) => {
    const t = trend(r.points, warmup, pick);
    return t.secondHalfMax <= t.firstHalfMax + FLAT_MARGIN_BYTES;
  });
  return { inFlightMax, bounded: inFlightMax <= r.bound.records, flat: flat && r.error === undefined };
}
