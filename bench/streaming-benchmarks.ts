// The four streaming benchmarks of issue 4 as run.ts drives them: each measures, prints its table on stdout and
// returns its RESULTS.md section. Defaults keep the four together under about four minutes.
import type { BenchmarkOutcome, RunContext } from "./job-benchmarks.ts";
import { measureChain } from "./streaming-chain.ts";
import { measureCheckpoints } from "./streaming-checkpoints.ts";
import { MEMORY_PARALLELISM, measureMemory, SLOW_SINK_RECORDS_PER_SECOND } from "./streaming-memory.ts";
import { checkpointDetails, checkpointTable } from "./streaming-checkpoint-report.ts";
import {
  chainTable,
  memoryDetails,
  median,
  memoryTable,
  shuffleDetails,
  shuffleTable,
} from "./streaming-report.ts";
import { chainSection, checkpointSection, memorySection, shuffleSection } from "./streaming-sections.ts";
import { measureShuffle } from "./streaming-shuffle.ts";

/** Many short rounds: the rate of this shared machine drifts by tens of percent within a minute. */
const SHUFFLE = { rounds: 6, warmupMs: 1_000, windowMs: 2_000, parallelism: 2 } as const;
/** Phases of 2.5 s: the window from 0.5 s to 2.5 s holds the checkpoints at 1 s and 2 s. */
const CHECKPOINTS = { pairs: 12, warmupMs: 2_000, settleMs: 500, windowMs: 2_000, parallelism: 2 } as const;
const IN_PROCESS = "none: in this process";
const TWO_WORKERS = "none: two worker TaskManager processes (bench/streaming-worker.ts) on loopback";

export async function streamChainBenchmark(ctx: RunContext): Promise<BenchmarkOutcome> {
  ctx.progress("stream-chain: runStreamTask vs a plain loop, in this process");
  const result = await measureChain({
    rounds: 3,
    roundMs: 2_000,
    progress: ctx.progress,
    stopRequested: ctx.stopRequested,
  });
  const t = chainTable(result);
  process.stdout.write(`\nStreaming: chained map/filter in one task vs a plain loop (records/s)\n${t}\n`);
  return {
    section: chainSection(t, ctx.stamp(), {
      records: result.records,
      runtime: median(result.runtime),
      loop: median(result.loop),
      ...(result.error === undefined ? {} : { error: result.error }),
    }),
    servers: IN_PROCESS,
    versions: [],
  };
}

export async function streamShuffleBenchmark(ctx: RunContext): Promise<BenchmarkOutcome> {
  ctx.progress(
    `stream-shuffle: ${SHUFFLE.rounds} rounds of raw grpc-js and vigil, two TaskManager processes`,
  );
  const result = await measureShuffle({
    ...SHUFFLE,
    progress: ctx.progress,
    stopRequested: ctx.stopRequested,
  });
  if (result.error !== undefined) ctx.progress(`stream-shuffle: stopped early: ${result.error}`);
  const t = shuffleTable(result);
  process.stdout.write(
    `\nStreaming: keyBy shuffle between two TaskManagers vs raw grpc-js (records/s)\n${t}\n`,
  );
  return {
    section: shuffleSection(t, shuffleDetails(result), ctx.stamp(), SHUFFLE.windowMs),
    servers: TWO_WORKERS,
    versions: [],
  };
}

export async function streamCheckpointsBenchmark(ctx: RunContext): Promise<BenchmarkOutcome> {
  ctx.progress(
    `stream-checkpoints: one job, ${CHECKPOINTS.pairs * 2} phases without and with checkpoints every second`,
  );
  const result = await measureCheckpoints({
    ...CHECKPOINTS,
    progress: ctx.progress,
    stopRequested: ctx.stopRequested,
  });
  if (result.error !== undefined) ctx.progress(`stream-checkpoints: stopped early: ${result.error}`);
  const t = checkpointTable(result);
  process.stdout.write(`\nStreaming: throughput with checkpoints every second vs none\n${t}\n`);
  return {
    section: checkpointSection(t, checkpointDetails(result), ctx.stamp(), CHECKPOINTS),
    servers: `${TWO_WORKERS}; the checkpoint coordinator on the memory HA backend in this process`,
    versions: [],
  };
}

export async function streamMemoryBenchmark(seconds: number, ctx: RunContext): Promise<BenchmarkOutcome> {
  ctx.progress(`stream-memory: ${seconds} s of a fast source into a slow sink, memory sampled every second`);
  const result = await measureMemory({
    seconds,
    parallelism: MEMORY_PARALLELISM,
    sinkRecordsPerSecond: SLOW_SINK_RECORDS_PER_SECOND,
    progress: ctx.progress,
    stopRequested: ctx.stopRequested,
  });
  if (result.error !== undefined) ctx.progress(`stream-memory: stopped early: ${result.error}`);
  const t = memoryTable(result);
  process.stdout.write(`\nStreaming: memory with a slow sink over ${seconds} s\n${t}\n`);
  return {
    section: memorySection(t, memoryDetails(result, SLOW_SINK_RECORDS_PER_SECOND), ctx.stamp(), seconds),
    servers: TWO_WORKERS,
    versions: [],
  };
}
