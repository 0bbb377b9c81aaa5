// stream-chain: records/s of source.sequence → map → filter → sink.discard chained into one task, run by the
// streaming runtime (runStreamTask, as a TaskManager runs a task: the mailbox loop, the operator chain, progress
// reports, yielding to the event loop every 5 ms), next to a plain Node loop that calls the same map and filter
// functions on the same values and hands the survivors to a sink. Both in this process, alternating rounds;
// the record count is calibrated so that a runtime round takes about `roundMs`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { CancelledError, InternalError } from "../src/common/errors.ts";
import { runStreamTask } from "../src/runtime/streaming/task.ts";
import { FileBlobStore } from "../src/storage/blob-store.ts";
import { type BenchRecord, benchFunctions, chainTask, keepRecord, toRecord } from "./streaming-jobs.ts";

export interface ChainOptions {
  readonly rounds: number;
  readonly roundMs: number;
  readonly progress: (line: string) => void;
  readonly stopRequested: () => boolean;
}

export interface ChainResult {
  /** Records per round (the source's count). */
  readonly records: number;
  readonly runtime: number[];
  readonly loop: number[];
  readonly error?: string;
}

/** What the loop's sink keeps: the record escapes, so it is really built (as the runtime must build it). */
let lastKept: BenchRecord | undefined;
const discard = (r: BenchRecord): void => {
  lastKept = r;
};

function loopRound(count: number): number {
  const started = performance.now();
  for (let v = 1; v <= count; v++) {
    const r = toRecord(v);
    if (keepRecord(r)) discard(r);
  }
  const elapsed = performance.now() - started;
  if (lastKept === undefined) throw new InternalError("stream-chain: the loop kept nothing");
  return (count * 1000) / elapsed;
}

async function runtimeRound(blobs: FileBlobStore, count: number, attempt: number): Promise<number> {
  const unused = (): never => {
    throw new InternalError("stream-chain: the chained task has no inputs or outputs");
  };
  const controller = new AbortController();
  const started = performance.now();
  const task = runStreamTask({
    task: chainTask(count, attempt),
    signal: controller.signal,
    blobs,
    functions: benchFunctions,
    openInput: unused,
    openOutput: unused,
    ack: () => {},
    decline: () => {},
    checkpointing: false,
  });
  try {
    await task.done;
  } finally {
    controller.abort(new CancelledError("stream-chain: round over"));
  }
  return (count * 1000) / (performance.now() - started);
}

export async function measureChain(o: ChainOptions): Promise<ChainResult> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-bench-chain-"));
  const blobs = new FileBlobStore(pathToFileURL(dir).href);
  const runtime: number[] = [];
  const loop: number[] = [];
  let records = 0;
  try {
    // Warm-up (JIT) and calibration.
    const probe = await runtimeRound(blobs, 500_000, 0);
    loopRound(500_000);
    records = Math.max(100_000, Math.round((probe * o.roundMs) / 1000 / 100_000) * 100_000);
    o.progress(`stream-chain: ${records} records per round (warm-up: ${Math.round(probe)} records/s)`);
    for (let r = 1; r <= o.rounds && !o.stopRequested(); r++) {
      loop.push(loopRound(records));
      await yieldToEventLoop();
      runtime.push(await runtimeRound(blobs, records, r));
      o.progress(
        `stream-chain: round ${r}: runtime ${Math.round(runtime.at(-1)!)} records/s, loop ${Math.round(loop.at(-1)!)} records/s`,
      );
    }
    return { records, runtime, loop };
  } catch (e: unknown) {
    return { records, runtime, loop, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
