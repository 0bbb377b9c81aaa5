// stream-shuffle: records/s of a keyBy (hash) exchange between two TaskManager processes — sources on one,
// the consumers (sink.discard) on the other, the real DataExchange over gRPC with credits — next to the raw
// grpc-js baseline of streaming-raw.ts between the same two processes. Rounds alternate (baseline, vigil, …);
// each measures the consumers' records/s over a window after a warm-up, and both processes' CPU.
import { setTimeout as sleep } from "node:timers/promises";
import { type CpuWindow, cpuMsOf, cpuWindow } from "./proc-stats.ts";
import { rateBetween, TwoTaskManagers } from "./streaming-cluster.ts";
import { shuffleJob } from "./streaming-jobs.ts";
import { otherCpuWindow } from "./streaming-load.ts";

export interface ShuffleOptions {
  readonly rounds: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  /** Subtasks on each side. */
  readonly parallelism: number;
  readonly progress: (line: string) => void;
  readonly stopRequested: () => boolean;
}

export interface ShuffleRound {
  readonly contestant: "vigil" | "raw";
  readonly recordsPerSecond: number;
  readonly producerCpu: CpuWindow;
  readonly consumerCpu: CpuWindow;
  /** The CPU other processes on the machine took during the window, % of one core. */
  readonly otherCpuPercent: number;
}

export interface ShuffleResult {
  readonly rounds: ShuffleRound[];
  readonly error?: string;
}

export async function measureShuffle(o: ShuffleOptions): Promise<ShuffleResult> {
  const rounds: ShuffleRound[] = [];
  let tms: TwoTaskManagers | undefined;
  try {
    tms = await TwoTaskManagers.start();
    const cluster = tms;
    const window = async (contestant: ShuffleRound["contestant"], prefix: string): Promise<ShuffleRound> => {
      await sleep(o.warmupMs);
      const before = await cluster.consumer.call("counters", {});
      const producerCpu = cpuWindow(() => cpuMsOf(cluster.producer.pid));
      const consumerCpu = cpuWindow(() => cpuMsOf(cluster.consumer.pid));
      const others = otherCpuWindow([cluster.producer.pid, cluster.consumer.pid]);
      await sleep(o.windowMs);
      const after = await cluster.consumer.call("counters", {});
      const round = {
        contestant,
        recordsPerSecond: rateBetween(before, after, prefix),
        producerCpu: producerCpu(),
        consumerCpu: consumerCpu(),
        otherCpuPercent: others(),
      };
      o.progress(
        `stream-shuffle: ${contestant} ${Math.round(round.recordsPerSecond)} records/s ` +
          `(CPU ${round.producerCpu.percentOfCore.toFixed(0)} % / ${round.consumerCpu.percentOfCore.toFixed(0)} %)`,
      );
      return round;
    };
    for (let r = 1; r <= o.rounds && !o.stopRequested(); r++) {
      const job = (kind: string) =>
        shuffleJob({
          jobId: `shuffle-${kind}-${r}`,
          attempt: r,
          parallelism: o.parallelism,
          consumer: { kind: "discard" },
          producerAddress: cluster.producer.address,
          checkpointIntervalMs: 0,
        });

      const raw = job("raw");
      const producers = raw.producers.map((task) => ({ name: task.executionId, task }));
      await cluster.producer.call("raw-produce", { producers });
      await cluster.consumer.call("raw-consume", {
        address: cluster.producer.address,
        streams: raw.consumers.flatMap((c) =>
          producers.map((p) => ({ producer: p.name, subpartition: c.subtask })),
        ),
      });
      rounds.push(await window("raw", "raw"));
      await cluster.consumer.call("raw-stop", {});
      await cluster.producer.call("raw-stop", {});

      const vigil = job("vigil");
      await cluster.deploy(vigil.producers, vigil.consumers);
      rounds.push(await window("vigil", "task:"));
      await cluster.cancel();
      if (cluster.failures.length > 0) throw new Error(`tasks failed: ${cluster.failures.join("; ")}`);
    }
    return { rounds };
  } catch (e: unknown) {
    return { rounds, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await tms?.stop();
  }
}
