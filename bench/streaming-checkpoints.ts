// stream-checkpoints: throughput of one job with checkpoints every second next to the same job without. The
// job: source.sequence (unbounded, 2 subtasks on TaskManager A) ─keyBy→ a per-key counter in value state →
// sink.discard (2 subtasks on TaskManager B), over the real exchange. Checkpoints take the real path: the
// leader's CheckpointCoordinator (here on the memory HA backend, in this process) triggers the sources, barriers
// flow through the exchange and align at the counters, every task snapshots its state to the FileBlobStore of
// the shared temp dir and acks, the coordinator writes the metadata blob and the fenced pointer and notifies.
//
// One deployment, in phases that alternate (ABBA) between a running coordinator and none: the two sides of a
// pair are seconds apart in the same processes, so the machine's drift, other processes' load and the JIT state
// of a deployment hit both alike (separate deployments differed by up to 2× on this shared 2-core machine). The
// tasks carry checkpointing on throughout; without triggers that changes nothing per record (it only matters at
// the end of a bounded input and for two-phase-commit sinks, neither of which this job has).
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { type CheckpointConfig, DEFAULT_CHECKPOINT_CONFIG } from "../src/checkpoint/config.ts";
import { CheckpointCoordinator } from "../src/checkpoint/coordinator.ts";
import { leaderOn, type TestLeader } from "../src/checkpoint/testing.ts";
import { silentLogger } from "../src/common/logger.ts";
import { MemoryCoordinator } from "../src/ha/memory/index.ts";
import { CheckpointIdCounter } from "../src/ha/stores/checkpoint-id-counter.ts";
import { CompletedCheckpointStore } from "../src/ha/stores/completed-checkpoint-store.ts";
import { FileBlobStore } from "../src/storage/blob-store.ts";
import { cpuMsOf, cpuWindow } from "./proc-stats.ts";
import { otherCpuWindow } from "./streaming-load.ts";
import { checkpointTasks, IpcCheckpointGateway, rateBetween, TwoTaskManagers } from "./streaming-cluster.ts";
import { type ShuffleJob, shuffleJob } from "./streaming-jobs.ts";

export const CHECKPOINT_INTERVAL_MS = 1_000;
/** DESIGN.md §6: checkpointing every second costs under 5 % of the pipeline's throughput. */
export const CHECKPOINT_LOSS_TARGET = 0.05;
const JOB_ID = "checkpoints";

export interface CheckpointOptions {
  /** Pairs of phases (one without checkpoints, one with). */
  readonly pairs: number;
  readonly warmupMs: number;
  /** From a phase's start to its window; with checkpoints, the first one comes one interval after the start. */
  readonly settleMs: number;
  /** The measured part of a phase: a whole number of intervals, so it holds that many checkpoints. */
  readonly windowMs: number;
  readonly parallelism: number;
  readonly progress: (line: string) => void;
  readonly stopRequested: () => boolean;
}

export interface CheckpointPhase {
  readonly checkpoints: boolean;
  readonly recordsPerSecond: number;
  /** Checkpoints completed and aborted within the measured window, the durations (trigger → completed) and sizes. */
  readonly completed: number;
  readonly aborted: number;
  readonly durationsMs: number[];
  readonly bytes: number[];
  /** CPU time of both TaskManager processes per record over the window, in µs. */
  readonly cpuUsPerRecord: number;
  /** The CPU other processes on the machine took during the window, % of one core. */
  readonly otherCpuPercent: number;
}

export interface CheckpointResult {
  readonly phases: CheckpointPhase[];
  readonly windowMs: number;
  readonly error?: string;
}

interface CoordinatorEvent {
  readonly at: number;
  readonly event: string;
  readonly durationMs?: number;
  readonly bytes?: number;
}

export async function measureCheckpoints(o: CheckpointOptions): Promise<CheckpointResult> {
  const phases: CheckpointPhase[] = [];
  const { windowMs } = o;
  const memory = new MemoryCoordinator();
  let leader: TestLeader | undefined;
  let tms: TwoTaskManagers | undefined;
  try {
    leader = await leaderOn(memory, "bench-jobmanager");
    const cluster = await TwoTaskManagers.start();
    tms = cluster;
    const job = shuffleJob({
      jobId: JOB_ID,
      attempt: 1,
      parallelism: o.parallelism,
      consumer: { kind: "count" },
      producerAddress: tms.producer.address,
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
    });
    const events: CoordinatorEvent[] = [];
    const coordinators = coordinatorFactory(cluster, leader, job, events);
    await cluster.deploy(job.producers, job.consumers);
    await sleep(o.warmupMs);
    const order = Array.from({ length: o.pairs }, (_, i) =>
      i % 2 === 0 ? [false, true] : [true, false],
    ).flat();
    for (const [i, checkpoints] of order.entries()) {
      if (o.stopRequested()) break;
      const coordinator = checkpoints ? coordinators() : undefined;
      coordinator?.start();
      try {
        await sleep(o.settleMs);
        const before = await cluster.consumer.call("counters", {});
        const from = performance.now();
        const cpu = cpuWindow(() => cpuMsOf(cluster.producer.pid) + cpuMsOf(cluster.consumer.pid));
        const others = otherCpuWindow([cluster.producer.pid, cluster.consumer.pid]);
        await sleep(windowMs);
        const after = await cluster.consumer.call("counters", {});
        const to = performance.now();
        const { cpuMs, wallMs } = cpu();
        const otherCpuPercent = others();
        if (cluster.failures.length > 0) throw new Error(`tasks failed: ${cluster.failures.join("; ")}`);
        const recordsPerSecond = rateBetween(before, after, "task:");
        const inWindow = events.filter((e) => e.at >= from && e.at <= to);
        const completed = inWindow.filter((e) => e.event === "checkpoint-completed");
        const phase: CheckpointPhase = {
          checkpoints,
          recordsPerSecond,
          completed: completed.length,
          aborted: inWindow.filter((e) => e.event === "checkpoint-aborted").length,
          durationsMs: completed.map((e) => e.durationMs ?? 0),
          bytes: completed.map((e) => e.bytes ?? 0),
          cpuUsPerRecord: recordsPerSecond > 0 ? (cpuMs * 1000) / ((recordsPerSecond * wallMs) / 1000) : 0,
          otherCpuPercent,
        };
        phases.push(phase);
        o.progress(
          `stream-checkpoints: phase ${i + 1}/${order.length}, ${checkpoints ? "checkpoints every 1 s" : "no checkpoints"}: ` +
            `${Math.round(recordsPerSecond)} records/s, other processes ${otherCpuPercent.toFixed(0)} % CPU` +
            (checkpoints ? `, ${phase.completed} completed, ${phase.aborted} aborted in the window` : ""),
        );
      } finally {
        await coordinator?.stop();
      }
    }
    await cluster.cancel();
    return { phases, windowMs };
  } catch (e: unknown) {
    return { phases, windowMs, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await tms?.stop();
    await leader?.close();
    memory.close();
  }
}

/**
 * A new coordinator per phase with checkpoints, as a new leader would make one: the same job, id counter and
 * completed-checkpoint store, so ids keep increasing and each completion subsumes the previous checkpoint.
 * The workers' acks and declines go to the latest one.
 */
function coordinatorFactory(
  tms: TwoTaskManagers,
  leader: TestLeader,
  job: ShuffleJob,
  events: CoordinatorEvent[],
): () => CheckpointCoordinator {
  const all = [...job.producers, ...job.consumers];
  const onProducer = new Set(job.producers.map((t) => t.executionId));
  const blobs = new FileBlobStore(tms.storageUri);
  const config: CheckpointConfig = { ...DEFAULT_CHECKPOINT_CONFIG, intervalMs: CHECKPOINT_INTERVAL_MS };
  const counter = new CheckpointIdCounter(leader.backend.store, JOB_ID);
  const store = new CompletedCheckpointStore(leader.backend.store, blobs, JOB_ID, config.retain);
  const gateway = new IpcCheckpointGateway((id) => (onProducer.has(id) ? tms.producer : tms.consumer));
  return () => {
    const coordinator = new CheckpointCoordinator({
      jobId: JOB_ID,
      session: leader.session,
      config,
      counter,
      store,
      blobs,
      tasks: () => checkpointTasks(all),
      gateway,
      events: (e) =>
        events.push({
          at: performance.now(),
          event: e.event,
          ...(typeof e.durationMs === "number" ? { durationMs: e.durationMs } : {}),
          ...(typeof e.bytes === "number" ? { bytes: e.bytes } : {}),
        }),
      logger: silentLogger,
      onFailureThreshold: () => {},
    });
    for (const w of [tms.producer, tms.consumer]) {
      w.listener = {
        ack: (executionId, checkpointId, states) =>
          coordinator.acknowledge(executionId, checkpointId, states),
        decline: (executionId, checkpointId, reason) =>
          coordinator.decline(executionId, checkpointId, reason),
      };
    }
    return coordinator;
  };
}
